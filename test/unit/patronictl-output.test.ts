/**
 * The differential patronictl test compares normalised output: these show that what it blanks is
 * only what differs by design, so that a real difference still shows (it found none in its first
 * runs but the member-key timing it now waits out).
 */
import { describe, expect, it } from 'vitest';
import { dateShape, lineDiff } from '../helpers/patroni-diff.ts';
import { normaliseData, normaliseTables, normaliseTsv } from '../helpers/patronictl-output.ts';

const PATRONI = `+ Cluster: <scope> ----+---------+---------+----+-----------+
| Member | Host            | Role    | State   | TL | Lag in MB |
+--------+-----------------+---------+---------+----+-----------+
| <leader>  | <leader-pg> | Leader  | running |  1 |           |
| <replica>  | <replica-pg> | Replica | running |  1 |         0 |
+--------+-----------------+---------+---------+----+-----------+
 Maintenance mode: on`;

/** The same cluster, wider (a longer state), on another timeline, with some lag. */
const WIDER = `+ Cluster: <scope> ---+---------+-----------+----+-----------+
| Member | Host            | Role    | State     | TL | Lag in MB |
+--------+-----------------+---------+-----------+----+-----------+
| <leader>  | <leader-pg> | Leader  | running   |  2 |           |
| <replica>  | <replica-pg> | Replica | streaming |  2 |        16 |
+--------+-----------------+---------+-----------+----+-----------+
 Maintenance mode: on`;

describe('patronictl output, normalised', () => {
  it('compares tables by cell, blanking timelines and lags of members but not their states', () => {
    const diff = lineDiff(normaliseTables(PATRONI, false), normaliseTables(WIDER, false));
    expect(diff).toEqual([
      '"| <replica> | <replica-pg> | Replica | running | <TL> | <Lag in MB> |" vs ' +
        '"| <replica> | <replica-pg> | Replica | streaming | <TL> | <Lag in MB> |"',
    ]);
    expect(normaliseTables(PATRONI, false)[0]).toBe('+ Cluster: <scope> +');
    expect(normaliseTables(PATRONI, false).at(-1)).toBe(' Maintenance mode: on');
  });

  it('blanks states, and timelines even when empty, only while the cluster moves', () => {
    const stopped = PATRONI.replace('| Leader  | running |  1 |', '| Leader  | stopped |    |');
    expect(lineDiff(normaliseTables(PATRONI, true), normaliseTables(stopped, true))).toEqual([]);
    expect(lineDiff(normaliseTables(PATRONI, false), normaliseTables(stopped, false))).toHaveLength(1);
  });

  it('keeps the timelines of history and blanks its LSNs', () => {
    const history = (tl: number, lsn: number) => `+----+----------+--------+
| TL |      LSN | Reason |
+----+----------+--------+
|  ${tl} | ${lsn} | no recovery target specified |
+----+----------+--------+`;
    expect(
      lineDiff(normaliseTables(history(1, 50332392), false), normaliseTables(history(1, 7), false)),
    ).toEqual([]);
    expect(
      lineDiff(normaliseTables(history(1, 5), false), normaliseTables(history(2, 5), false)),
    ).toHaveLength(1);
  });

  it('does the same for JSON and YAML rows and for tab-separated tables', () => {
    const row = (state: string, tl: number, lag: number) => [
      { Member: '<replica>', State: state, TL: tl, 'Lag in MB': lag },
    ];
    expect(normaliseData(row('running', 1, 0), false)).toEqual(normaliseData(row('running', 3, 5), false));
    expect(normaliseData(row('running', 1, 0), false)).not.toEqual(
      normaliseData(row('stopped', 1, 0), false),
    );
    expect(normaliseData({ ttl: 10, postgresql: { use_slots: true } }, false)).toEqual({
      ttl: 10,
      postgresql: { use_slots: true },
    });
    const tsv = (tl: string) => `Cluster\tMember\tTL\tLag in MB\n<scope>\t<leader>\t${tl}\t\n`;
    expect(normaliseTsv(tsv('1'), false)).toEqual(normaliseTsv(tsv('4'), false));
    expect(normaliseTsv(tsv('1'), false)[1]).toBe('<scope>\t<leader>\t<TL>\t');
  });

  it('compares dates by format, not instant (fractions of a second aside)', () => {
    expect(dateShape('at 2026-12-03T19:09:26.053436+00:00.')).toBe('at 0000-00-00T00:00:00+00:00.');
    expect(dateShape('2026-12-03 19:09:21.47498 Switchover scheduled')).toBe(
      dateShape('2027-01-01 00:00:00 Switchover scheduled'),
    );
    expect(dateShape('2026-12-03T19:09:26+00:00')).not.toBe(dateShape('2026-12-03 19:09:26+00:00'));
  });

  it('pairs changed lines and names lines only one side printed', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'B', 'c', 'd'])).toEqual(['"b" vs "B"', 'only in pgwarden: "d"']);
    expect(lineDiff(['a', 'x'], ['a'])).toEqual(['only in patroni: "x"']);
  });
});
