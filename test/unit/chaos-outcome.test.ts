import { describe, expect, it } from 'vitest';
import { classifyError, shortError, timelineOf } from '../../bench/lib/chaos/outcome.ts';

/** What pg's DatabaseError carries that the rule reads. */
const server = (severity: string, code: string) =>
  Object.assign(new Error(`server said ${code}`), { severity, code });

describe('what an INSERT error says about the commit', () => {
  it('a replica refusing the write (25006 ERROR) certainly did not commit', () => {
    expect(classifyError(server('ERROR', '25006'))).toEqual({ outcome: 'fail', error: '25006' });
  });

  it('a FATAL admin_shutdown in answer to the INSERT is not known: the backend may have committed', () => {
    expect(classifyError(server('FATAL', '57P01'))).toEqual({ outcome: 'unknown', error: '57P01' });
  });

  it('a cancel, a timeout, a lost socket and 40003 are not known', () => {
    expect(classifyError(server('ERROR', '57014')).outcome).toBe('unknown');
    expect(classifyError(server('ERROR', '40003')).outcome).toBe('unknown');
    expect(classifyError(new Error('Query read timeout'))).toEqual({
      outcome: 'unknown',
      error: 'Query read timeout',
    });
    expect(classifyError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toEqual({
      outcome: 'unknown',
      error: 'ECONNRESET',
    });
    expect(classifyError(new Error('Connection terminated unexpectedly')).outcome).toBe('unknown');
  });

  it('a query pg refused to write to a dead connection was never sent', () => {
    const err = new Error('Client has encountered a connection error and is not queryable');
    expect(classifyError(err).outcome).toBe('fail');
  });

  it('long messages are cut short', () => {
    expect(shortError(new Error('x'.repeat(200))).length).toBeLessThanOrEqual(60);
  });
});

describe('timeline from pg_walfile_name', () => {
  it('reads the first eight hex digits', () => {
    expect(timelineOf('000000010000000000000003')).toBe(1);
    expect(timelineOf('0000000A0000000000000003')).toBe(10);
  });

  it('has none for anything else', () => {
    expect(timelineOf(undefined)).toBeUndefined();
    expect(timelineOf('zz')).toBeUndefined();
  });
});
