/**
 * PostgreSQL version strings as Patroni's postgres_version_to_int reads them (used by the
 * `postgres_version` filter of POST /restart, reference §2.12).
 */
import { describe, expect, it } from 'vitest';
import { postgresVersionToInt, VersionFormatError } from '../../src/cluster/versions.ts';

const message = (v: string) => `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${v}`;

describe('postgresVersionToInt', () => {
  it.each([
    ['15.4', 150004],
    ['9.6.24', 90624],
    ['10.1', 100001],
    ['15.4.1', 150401],
    ['10.0', 100000],
    ['16.10', 160010],
    ['9.4.0', 90400],
    // Python's int() accepts surrounding whitespace and a sign on every part.
    [' 15 . 4 ', 150004],
    ['+15.4', 150004],
  ])('%j → %i', (version, expected) => {
    expect(postgresVersionToInt(version)).toBe(expected);
  });

  it.each([
    ['9.6', message],
    ['15', message],
    ['1.2.3.4', message],
    // A part Python's int() cannot read: Patroni's other message.
    ...['a.b', '', '15.', '.4', '15.4a', '15..4', '1e1.2', '0x10.1'].map(
      (v) => [v, (x: string) => `Invalid PostgreSQL version: ${x}`] as const,
    ),
  ] as const)('%j → VersionFormatError with the exact message', (version, expected) => {
    let caught: unknown;
    try {
      postgresVersionToInt(version);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(VersionFormatError);
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toBe(expected(version));
    expect((caught as Error).name).toBe('VersionFormatError');
  });

  it('the message names the version verbatim', () => {
    expect(() => postgresVersionToInt('9.6')).toThrow(new VersionFormatError('9.6'));
    expect(new VersionFormatError('x.y').message).toBe(
      'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: x.y',
    );
  });
});
