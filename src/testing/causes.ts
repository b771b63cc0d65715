/**
 * What may move leadership, for the invariant "no leadership change nobody asked for". A
 * promotion or a lost lock is explained only by a fault or an operator request that can cause
 * one: a node killed, frozen, cut off or partitioned, PostgreSQL crashed, etcd down or slow, an
 * operation made slow or failing, a shutdown, a switchover or failover (when sent, and when a
 * scheduled one comes due). Configuration changes, reloads, restarts of PostgreSQL, pause and
 * resume, reinitialize, clock drift, wall-clock steps and requests scheduled for later never are.
 *
 * A fault counts while it lasts (a node stays dead until restarted) and for a horizon after it
 * ends, long enough for every consequence it can have: a lease to run out (ttl), a slow operation
 * to finish, the node to rejoin.
 *
 * A fault on one node explains only that node's loss of leadership: the leader losing its lock
 * because a replica died, froze, was cut from etcd or partitioned from someone else is a bug (a
 * /failsafe write that pushed the next refresh past the lease's deadline did exactly that, while
 * a replica was dead). A partition explains the loss of either of its two ends. What touches
 * everyone — etcd down or slow, a switchover or failover, the heal phase — explains any loss.
 * Promotions are explained by any cause (a promotion follows a loss, checked on its own).
 *
 * A flaky etcd (`dcs-flaky`) is scoped to its node. On the leader it explains losing the lock:
 * a keepalive or leader update that failed (before or after etcd applied it) proves nothing,
 * and a leader that cannot prove its lease within retry_timeout must step down on its own
 * deadline, as Patroni demotes when update_leader fails; the promotion that follows is then
 * explained too. On any other node it explains no node's loss of leadership: a replica's failing
 * calls touch only its own keys, so a leader that loses the lock because another node's etcd
 * calls fail is a bug. Promotions are explained by a flaky node anywhere (a promotion follows the
 * previous leader's loss of the lock, which is checked on its own, with its node).
 */
import { describeAction, type ScheduleAction } from './schedule/index.ts';

/** Whose loss of leadership a cause can explain: a node's name, or everyone's. */
const ANYONE = '*';

export class LeadershipCauses {
  /** Faults still in effect, by what ends them ("dead node1" ends with its restart). */
  private readonly ongoing = new Map<string, { what: string; scope: readonly string[] }>();
  /** When the last cause happened or ended (virtual ms), and what it was, by scope. */
  private readonly last = new Map<string, { at: number; what: string }>();
  /** Scheduled switchovers within the run: a cause again when due. */
  private readonly due: Array<{ at: number; what: string }> = [];
  private horizonMs: number;
  /** Flaky etcd per node: in effect (what), or when it ended. */
  private readonly flaky = new Map<string, string>();
  private readonly flakyEnded = new Map<string, { at: number; what: string }>();

  constructor(ttlSeconds: number) {
    this.horizonMs = LeadershipCauses.horizonFor(ttlSeconds);
  }

  /** A lease to run out, twice over, plus the longest slow operation (30 s) and a rejoin. */
  static horizonFor(ttlSeconds: number): number {
    return 3 * ttlSeconds * 1000 + 60_000;
  }

  /** An action played at `now` (virtual ms). */
  note(a: ScheduleAction, now: number): void {
    const what = describeAction(a);
    const start = (key: string, ...scope: string[]) => this.ongoing.set(key, { what, scope });
    const end = (key: string) => {
      const ended = this.ongoing.get(key);
      if (!ended) return;
      this.ongoing.delete(key);
      this.cause(now, `end of ${what}`, ended.scope);
    };
    switch (a.kind) {
      case 'kill':
      case 'kill-agent':
      case 'shutdown':
        start(`dead ${a.node}`, a.node);
        break;
      case 'restart':
        end(`dead ${a.node}`);
        break;
      case 'freeze':
        start(`frozen ${a.node}`, a.node);
        break;
      case 'thaw':
        end(`frozen ${a.node}`);
        break;
      case 'dcs-cut':
        start(`cut ${a.node}`, a.node);
        break;
      case 'dcs-reconnect':
        end(`cut ${a.node}`);
        break;
      case 'dcs-down':
        start('dcs down', ANYONE);
        break;
      case 'dcs-up':
        end('dcs down');
        break;
      case 'dcs-latency':
        if (a.ms > 0) start('dcs latency', ANYONE);
        else end('dcs latency');
        break;
      case 'partition':
        start(`partition ${[a.a, a.b].sort().join(' ')}`, a.a, a.b);
        break;
      case 'heal':
        end(`partition ${[a.a, a.b].sort().join(' ')}`);
        break;
      case 'reject':
        start(`rejecting ${a.node}`, a.node);
        break;
      case 'accept':
        end(`rejecting ${a.node}`);
        break;
      // The failure waits for the operation's next call, which may come at any later time.
      case 'fail':
        start(`fail ${a.node} ${a.op}`, a.node);
        break;
      case 'dcs-flaky':
        if (a.percent > 0 || a.latencyMs > 0) this.flaky.set(a.node, what);
        else if (this.flaky.delete(a.node)) this.flakyEnded.set(a.node, { at: now, what: `end of ${what}` });
        break;
      case 'patch-config':
        this.horizonMs = Math.max(this.horizonMs, LeadershipCauses.horizonFor(a.ttl));
        break;
      case 'crash-postgres':
      case 'slow':
        this.cause(now, what, [a.node]);
        break;
      case 'failover':
      case 'switchover':
        this.cause(now, what, [ANYONE]);
        break;
      default:
        break;
    }
    if (a.kind === 'switchover' && a.inS !== null)
      this.due.push({ at: now + a.inS * 1000, what: `${what} (due)` });
  }

  /** Every fault undone at once (the runner's heal phase). */
  healAll(now: number): void {
    for (const node of this.flaky.keys()) this.flakyEnded.set(node, { at: now, what: 'the heal phase' });
    this.flaky.clear();
    if (this.ongoing.size === 0) return;
    this.ongoing.clear();
    this.cause(now, 'the heal phase', [ANYONE]);
  }

  private cause(now: number, what: string, scope: readonly string[]): void {
    for (const s of scope) this.last.set(s, { at: now, what });
  }

  /**
   * null when a leadership change at `now` has a cause, else the calm it broke. `losing`: the
   * node that stopped leading (a fault elsewhere does not explain it); absent for a promotion.
   */
  unexplained(now: number, losing?: string): string | null {
    for (let i = this.due.length - 1; i >= 0; i--) {
      const d = this.due[i]!;
      if (d.at > now) continue;
      this.due.splice(i, 1);
      if (d.at > (this.last.get(ANYONE)?.at ?? Number.NEGATIVE_INFINITY)) this.cause(d.at, d.what, [ANYONE]);
    }
    const explains = (scope: string) => losing === undefined || scope === ANYONE || scope === losing;
    for (const o of this.ongoing.values()) if (o.scope.some(explains)) return null;
    let latest: { at: number; what: string } | null = null;
    for (const [scope, c] of this.last)
      if (explains(scope) && (latest === null || c.at > latest.at)) latest = c;
    if (latest !== null && now - latest.at <= this.horizonMs) return null;
    for (const node of losing === undefined ? [...this.flaky.keys(), ...this.flakyEnded.keys()] : [losing]) {
      if (this.flaky.has(node)) return null;
      const ended = this.flakyEnded.get(node);
      if (ended && now - ended.at <= this.horizonMs) return null;
    }
    const whose = losing === undefined ? '' : ` that could move ${losing}`;
    const since =
      latest !== null
        ? `${((now - latest.at) / 1000).toFixed(1)} s after the last cause${whose} (${latest.what})`
        : `with no fault${whose} nor leadership request all run`;
    const elsewhere = [...this.ongoing.values()].map((o) => o.what);
    return `${since}; horizon ${(this.horizonMs / 1000).toFixed(0)} s${elsewhere.length > 0 ? `; in effect elsewhere: ${elsewhere.join(', ')}` : ''}`;
  }
}
