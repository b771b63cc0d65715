/**
 * What this agent raised an alarm about: each orphan primary it fenced (src/cluster/orphans.ts),
 * with when and how. Published in its member key for an hour, so that every member's GET /cluster
 * shows it (`alarms`, clusterAlarms); counted in /metrics (`pgwarden_orphans_fenced_total`);
 * kept in memory, the latest few, until the agent restarts.
 */
import type { Alarm, AlarmsReading } from '../cluster/orphans.ts';

const KEPT = 10;

export class Alarms {
  orphansFenced = 0;
  /** Replaced (never changed in place) at each alarm: readers may compare it by identity. */
  private raised: readonly Alarm[] = [];

  constructor(private readonly now: () => number) {}

  orphanFenced(member: string, terminated: number): void {
    this.orphansFenced++;
    this.raise(
      member,
      `the PostgreSQL of ${member} was still writable without the lock: fenced (read-only for new transactions, ${terminated} client session(s) ended); with asynchronous replication, writes it acknowledged that did not reach this node are not on the new timeline`,
    );
  }

  reading(): AlarmsReading {
    return { orphansFenced: this.orphansFenced, list: this.raised };
  }

  private raise(member: string, message: string): void {
    this.raised = [...this.raised, { at: new Date(this.now()).toISOString(), member, message }].slice(-KEPT);
  }
}
