/**
 * Patroni's health-check decision (api.py do_GET) as a pure function of the node report:
 * which status code a load balancer gets for a path and query.
 */
import { isSyncStandby, type NodeReport } from '../cluster/report.ts';

const UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
/** Patroni's `round_order` for byte units: a fractional value is rounded to whole units of the next one down. */
const NEXT_SMALLER: Record<string, string> = { TB: 'GB', GB: 'MB', MB: 'kB', kB: 'B' };

/** C `strtol(s, &end, 0)`: sign, then `0x` hex, leading-`0` octal or decimal. Null when no digits. */
function strtol(s: string): { value: number; rest: string } | null {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))/.exec(s);
  if (!m) return null;
  const [text, sign, hex, oct, dec] = m;
  const magnitude =
    hex !== undefined ? parseInt(hex, 16) : oct !== undefined ? parseInt(oct, 8) : Number(dec);
  return { value: sign === '-' ? -magnitude : magnitude, rest: s.slice(text.length) };
}

/** Decimal floating point as Patroni's `strtod` reads it (no inf/nan). Null when nothing matches. */
function strtod(s: string): { value: number; rest: string } | null {
  const m = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(s);
  return m ? { value: Number(m[0]), rest: s.slice(m[0].length) } : null;
}

/** Round half to even, as Python `round` and numpy `rint`. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `?lag=` values as Patroni `parse_int(value, 'B')`: an integer read like C strtol base 0 (re-read as a
 * float when followed by `.`, `e` or `E`), then an optional case-sensitive unit B/kB/MB/GB/TB (1024-based);
 * a fractional value is rounded half-to-even to whole units of the next smaller unit. Undefined: no limit.
 */
export function parseLag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let parsed = strtol(text);
  const rest = parsed ? parsed.rest : text;
  if (/^[.eE]/.test(rest)) parsed = strtod(text);
  if (!parsed) return undefined;
  const unit = parsed.rest.trim();
  let n = parsed.value;
  if (unit !== '') {
    const factor = UNITS[unit];
    if (factor === undefined) return undefined;
    n *= factor;
    const smaller = NEXT_SMALLER[unit];
    if (smaller !== undefined) n = rint(n / UNITS[smaller]!) * UNITS[smaller]!;
  }
  const bytes = rint(n);
  return Number.isFinite(bytes) ? bytes : undefined;
}

export function replayedLocation(r: NodeReport): number {
  return r.pg?.running && r.pg.inRecovery ? (r.pg.replayedLsn ?? 0) : 0;
}

export interface HealthCodes {
  leader: number;
  primary: number;
  standbyLeader: number;
  replica: number;
}

export function healthCodes(r: NodeReport, query: Record<string, string | undefined>): HealthCodes {
  const role = r.pg?.running ? (r.pg.inRecovery ? 'replica' : 'master') : r.role;
  const leaderOptime = r.view?.status?.optime ?? 0;
  const maxLag = parseLag(query['lag']);
  const lagging = maxLag !== undefined && leaderOptime > 0 && leaderOptime > replayedLocation(r) + maxLag;
  const noLoadBalance = r.tags['noloadbalance'] === true;
  let replica = !noLoadBalance && !lagging && role === 'replica' && r.state === 'running' ? 200 : 503;
  let leader = 503;
  let primary = 503;
  let standbyLeader = 503;
  if (r.view === null && r.paused) {
    leader = role === 'master' || role === 'standby_leader' ? 200 : 503;
    primary = role === 'master' ? 200 : 503;
    standbyLeader = role === 'standby_leader' ? 200 : 503;
  } else if (r.isLeader) {
    leader = 200;
    primary = 200;
    if (role !== 'master') {
      // Holding the lock but not (yet) writable: not a primary for a load balancer.
      primary = 503;
      replica = 503;
    }
  }
  return { leader, primary, standbyLeader, replica };
}

/** Status code for a health-check path (substring matching, first match wins, as Patroni). */
export function healthStatus(path: string, query: Record<string, string | undefined>, r: NodeReport): number {
  const p = path === '/' ? '/primary' : path;
  const c = healthCodes(r, query);
  let code: number;
  let tagsApply = false;
  if (p.includes('standby_leader') || p.includes('standby-leader')) code = c.standbyLeader;
  else if (p.includes('leader')) code = c.leader;
  else if (p.includes('master') || p.includes('primary') || p.includes('read-write')) code = c.primary;
  else {
    tagsApply = true;
    if (p.includes('replica')) code = c.replica;
    else if (p.includes('read-only') && !p.includes('sync'))
      code = c.primary === 200 || c.standbyLeader === 200 ? 200 : c.replica;
    else if (p.includes('health')) code = r.state === 'running' ? 200 : 503;
    else if (r.view !== null && (p === '/sync' || p === '/synchronous'))
      code = isSyncStandby(r) ? c.replica : 503;
    else if (r.view !== null && (p === '/async' || p === '/asynchronous'))
      code = isSyncStandby(r) ? 503 : c.replica;
    else if (r.view !== null && (p === '/read-only-sync' || p === '/read-only-synchronous'))
      code = c.primary === 200 || c.standbyLeader === 200 ? 200 : isSyncStandby(r) ? c.replica : 503;
    else code = 503;
  }
  if (code === 200 && tagsApply && !tagsMatch(query, r.tags)) code = 503;
  return code;
}

function tagsMatch(query: Record<string, string | undefined>, tags: Record<string, unknown>): boolean {
  for (const [k, v] of Object.entries(query)) {
    if (!k.startsWith('tag_') || v === undefined) continue;
    const name = k.slice(4);
    if (!(name in tags)) return false;
    const have = tags[name];
    const text = typeof have === 'string' ? have : String(have).toLowerCase();
    if (text !== v) return false;
  }
  return true;
}
