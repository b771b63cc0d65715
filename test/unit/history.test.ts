import { describe, expect, it } from 'vitest';
import { buildHistory, divergedFromHistory, isoTimestamp } from '../../src/cluster/history.ts';
import type { HistoryLine } from '../../src/cluster/view.ts';

describe('isoTimestamp (Python datetime.isoformat() of a UTC instant)', () => {
  it('renders milliseconds as six-digit microseconds and a +00:00 offset', () => {
    expect(isoTimestamp(new Date(Date.UTC(2026, 10, 25, 19, 57, 57, 123)))).toBe(
      '2026-11-25T19:57:57.123000+00:00',
    );
  });

  it('pads small fractions and single-digit fields', () => {
    expect(isoTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 7)))).toBe('2026-01-02T03:04:05.007000+00:00');
    expect(isoTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 999)))).toBe(
      '2026-01-02T03:04:05.999000+00:00',
    );
  });

  it('matches the shape Python produces', () => {
    const s = isoTimestamp(new Date(1795637532909));
    expect(s).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
    expect(s).toBe('2026-11-25T20:12:12.909000+00:00');
  });

  // Python's isoformat() omits the fraction when microsecond == 0
  // (`datetime(2026,11,25,19,57,57,tzinfo=timezone.utc).isoformat()` → '2026-11-25T19:57:57+00:00').
  it('omits the fraction at a whole second, as Python does', () => {
    expect(isoTimestamp(new Date(Date.UTC(2026, 10, 25, 19, 57, 57, 0)))).toBe('2026-11-25T19:57:57+00:00');
  });
});

describe('buildHistory (§1.8)', () => {
  const at = new Date(Date.UTC(2026, 10, 25, 19, 57, 57, 123));
  const when = '2026-11-25T19:57:57.123000+00:00';

  it('first promotion: the single line gets the promotion time and the new leader', () => {
    expect(buildHistory(null, [[1, 50331808, 'no recovery target specified']], 'pg2', at)).toEqual([
      [1, 50331808, 'no recovery target specified', when, 'pg2'],
    ]);
    expect(buildHistory([], [[1, 50331808, 'no recovery target specified']], 'pg2', at)).toEqual([
      [1, 50331808, 'no recovery target specified', when, 'pg2'],
    ]);
  });

  it('keeps timestamps and names of lines already in DCS when timeline and LSN match', () => {
    const existing: HistoryLine[] = [
      [1, 50331808, 'no recovery target specified', '2026-11-20T10:00:00.000001+00:00', 'pg1'],
      [2, 83886240, 'no recovery target specified', '2026-11-21T11:00:00.500000+00:00', 'pg3'],
    ];
    const file: Array<[number, number, string]> = [
      [1, 50331808, 'no recovery target specified'],
      [2, 83886240, 'no recovery target specified'],
      [3, 117440672, 'no recovery target specified'],
    ];
    expect(buildHistory(existing, file, 'pg2', at)).toEqual([
      [1, 50331808, 'no recovery target specified', '2026-11-20T10:00:00.000001+00:00', 'pg1'],
      [2, 83886240, 'no recovery target specified', '2026-11-21T11:00:00.500000+00:00', 'pg3'],
      [3, 117440672, 'no recovery target specified', when, 'pg2'],
    ]);
  });

  it('an older line whose LSN differs from DCS keeps only the file fields', () => {
    const existing: HistoryLine[] = [
      [1, 999, 'no recovery target specified', '2026-11-20T10:00:00+00:00', 'pg1'],
    ];
    const file: Array<[number, number, string]> = [
      [1, 50331808, 'no recovery target specified'],
      [2, 83886240, 'no recovery target specified'],
    ];
    expect(buildHistory(existing, file, 'pg2', at)).toEqual([
      [1, 50331808, 'no recovery target specified'],
      [2, 83886240, 'no recovery target specified', when, 'pg2'],
    ]);
  });

  it('an older line whose timeline is not in DCS keeps only the file fields', () => {
    const file: Array<[number, number, string]> = [
      [1, 100, 'a'],
      [2, 200, 'b'],
      [3, 300, 'c'],
    ];
    const existing: HistoryLine[] = [[2, 200, 'b', 't2', 'pg3']];
    expect(buildHistory(existing, file, 'pg4', at)).toEqual([
      [1, 100, 'a'],
      [2, 200, 'b', 't2', 'pg3'],
      [3, 300, 'c', when, 'pg4'],
    ]);
  });

  it('the reason comes from the file, not from DCS', () => {
    const existing: HistoryLine[] = [[1, 100, 'old reason', 't1', 'pg1']];
    expect(
      buildHistory(
        existing,
        [
          [1, 100, 'new reason'],
          [2, 200, 'x'],
        ],
        'pg2',
        at,
      ),
    ).toEqual([
      [1, 100, 'new reason', 't1', 'pg1'],
      [2, 200, 'x', when, 'pg2'],
    ]);
  });

  it('empty history file → empty list', () => {
    expect(buildHistory([[1, 100, 'a', 't', 'pg1']], [], 'pg2', at)).toEqual([]);
  });

  it('does not mutate its inputs', () => {
    const existing: HistoryLine[] = [[1, 100, 'a', 't1', 'pg1']];
    const file: Array<[number, number, string]> = [
      [1, 100, 'a'],
      [2, 200, 'b'],
    ];
    buildHistory(existing, file, 'pg2', at);
    expect(existing).toEqual([[1, 100, 'a', 't1', 'pg1']]);
    expect(file).toEqual([
      [1, 100, 'a'],
      [2, 200, 'b'],
    ]);
  });

  // Ha.update_cluster_history enriches a line from DCS when the stored line has at least 4 fields
  // (timestamp, optionally the name): `len(cluster_history[tli]) >= 4`. Older Patroni wrote 4 fields.
  it('keeps the timestamp of a 4-field line written by an older Patroni', () => {
    const existing: HistoryLine[] = [[1, 100, 'a', '2020-01-01T00:00:00+00:00']];
    expect(
      buildHistory(
        existing,
        [
          [1, 100, 'a'],
          [2, 200, 'b'],
        ],
        'pg2',
        at,
      ),
    ).toEqual([
      [1, 100, 'a', '2020-01-01T00:00:00+00:00'],
      [2, 200, 'b', when, 'pg2'],
    ]);
  });
});

describe('divergedFromHistory: WAL the leader never had', () => {
  const history: HistoryLine[] = [
    [1, 1000, 'no recovery target specified'],
    [2, 5000, 'no recovery target specified'],
  ];

  it('past the point where the history left its timeline: diverged', () => {
    expect(divergedFromHistory(history, 1, 1001)).toBe(true);
    expect(divergedFromHistory(history, 2, 6000)).toBe(true);
  });

  it('up to that point, or on the timeline the history has not left: it can follow', () => {
    expect(divergedFromHistory(history, 1, 1000)).toBe(false);
    expect(divergedFromHistory(history, 1, 900)).toBe(false);
    expect(divergedFromHistory(history, 3, 9000)).toBe(false);
  });

  it('nothing to compare with says nothing', () => {
    expect(divergedFromHistory(null, 1, 2000)).toBe(false);
    expect(divergedFromHistory([], 1, 2000)).toBe(false);
    expect(divergedFromHistory(history, null, 2000)).toBe(false);
    expect(divergedFromHistory(history, 1, null)).toBe(false);
  });
});
