import { describe, expect, it } from 'vitest';
import {
  divergencePath,
  mayRemoveAfterFailedRewind,
  systemIdentifierMismatch,
  validSystemIdentifier,
} from '../../src/cluster/rejoin.ts';

const none = {
  use_pg_rewind: false,
  remove_data_directory_on_rewind_failure: false,
  remove_data_directory_on_diverged_timelines: false,
};

describe('what a diverged data directory may become (Patroni 3.0 rewind_or_reinitialize)', () => {
  it('pg_rewind when allowed, else a new clone only with remove_data_directory_on_diverged_timelines, else kept', () => {
    expect(divergencePath({ ...none, use_pg_rewind: true })).toBe('rewind');
    expect(
      divergencePath({ ...none, use_pg_rewind: true, remove_data_directory_on_diverged_timelines: true }),
    ).toBe('rewind');
    expect(divergencePath({ ...none, remove_data_directory_on_diverged_timelines: true })).toBe('reclone');
    expect(divergencePath({ ...none, remove_data_directory_on_rewind_failure: true })).toBe('keep');
    expect(divergencePath(none)).toBe('keep');
  });

  it('after pg_rewind could not rewind, the data directory goes only if either remove_data_directory_on_* is set', () => {
    expect(mayRemoveAfterFailedRewind({ ...none, use_pg_rewind: true })).toBe(false);
    expect(mayRemoveAfterFailedRewind({ ...none, remove_data_directory_on_rewind_failure: true })).toBe(true);
    expect(mayRemoveAfterFailedRewind({ ...none, remove_data_directory_on_diverged_timelines: true })).toBe(
      true,
    );
  });
});

describe('system identifier against /initialize', () => {
  it('a valid identifier is ten decimal digits or more (Patroni sysid_valid)', () => {
    expect(validSystemIdentifier('7123456789012345678')).toBe(true);
    expect(validSystemIdentifier('1234567890')).toBe(true);
    expect(validSystemIdentifier('123456789')).toBe(false);
    expect(validSystemIdentifier('')).toBe(false);
    expect(validSystemIdentifier('12345678901x')).toBe(false);
    expect(validSystemIdentifier(null)).toBe(false);
  });

  it('differs only when both are known and the cluster one is valid', () => {
    expect(systemIdentifierMismatch('7123456789012345678', '6123456789012345678')).toBe(true);
    expect(systemIdentifierMismatch('7123456789012345678', '7123456789012345678')).toBe(false);
    expect(systemIdentifierMismatch(null, '6123456789012345678')).toBe(false);
    expect(systemIdentifierMismatch('7123456789012345678', null)).toBe(false);
    expect(systemIdentifierMismatch('7123456789012345678', '')).toBe(false);
  });
});
