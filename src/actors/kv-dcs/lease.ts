/**
 * This node's etcd lease, which its member key and (while it leads) the leader key ride on:
 * granted with the dynamic ttl, kept alive, replaced when the ttl changes — except under the
 * leader key, which moves only in a refresh — and re-granted once when etcd no longer knows it.
 * Its last acknowledged refresh is what the election trusts the lock by.
 */
import { type Kv, LeaseNotFoundError } from '../../transport/etcd-keys.ts';
import { type Clock, monotonicNow } from '../clock.ts';
import type { BoundedCalls } from './calls.ts';

export class LeaseKeeper {
  /** The ttl new leases get (dynamic `ttl`). */
  ttl = 30;
  /** Our lease's id (null: none held), and the ttl it was granted with. */
  lease: string | null = null;
  leaseTtl = 0;
  /** The lease our leader key was last written on by us; null when we do not hold the key. */
  leaderLease: string | null = null;
  /**
   * The lease our leader key was last written on, never cleared: a new term is never begun on it.
   * With fast failover a member that removed our key by a proof revokes that lease next; a lock
   * taken again on it in between would be deleted under us by the revoke, and the remover would
   * take the lock while we trusted ours (found by a review).
   */
  private termLease: string | null = null;
  /** Clock time at which the last grant or keepalive that etcd acknowledged was sent. */
  lastRefresh: number | null = null;
  /** Steady time the last write of our leader key (an acquisition, a refresh) was sent. */
  leaderWriteSent: number | null = null;

  constructor(
    private readonly kv: Kv,
    private readonly calls: BoundedCalls,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void,
  ) {}

  /** A write of our leader key is being sent now. */
  writingLeader(): void {
    this.leaderWriteSent = monotonicNow(this.clock);
  }

  leaseAgeMs(): number {
    return this.lastRefresh === null ? Number.POSITIVE_INFINITY : monotonicNow(this.clock) - this.lastRefresh;
  }

  setTtl(ttl: number): void {
    this.ttl = ttl;
  }

  /** Our lease unless a new ttl wants a new one — except the lease our leader key rides on. */
  usableLease(): string | null {
    const lease = this.lease;
    return lease !== null && (this.leaseTtl === this.ttl || lease === this.leaderLease) ? lease : null;
  }

  async grant(deadline?: number): Promise<string> {
    const ttl = this.ttl;
    const sent = monotonicNow(this.clock);
    const id = await this.calls.call('lease grant', (o) => this.kv.leaseGrant(ttl, o), deadline);
    this.lease = id;
    this.leaseTtl = ttl;
    this.lastRefresh = sent;
    this.log(`granted lease ${id} with ttl ${ttl}`);
    return id;
  }

  async keepalive(deadline: number): Promise<boolean> {
    const id = this.lease;
    if (!id) return false;
    const sent = monotonicNow(this.clock);
    const left = await this.calls.call('lease keepalive', (o) => this.kv.leaseKeepAlive(id, o), deadline);
    if (left > 0) {
      if (this.lease === id) this.lastRefresh = sent;
      return true;
    }
    this.forget(id);
    this.log(`lease ${id} is gone`);
    return false;
  }

  async ensure(ttl: number): Promise<string> {
    this.setTtl(ttl);
    return this.usableLease() ?? this.grant();
  }

  refresh(): Promise<boolean> {
    return this.keepalive(this.calls.deadline());
  }

  async fresh(ttl: number): Promise<void> {
    this.setTtl(ttl);
    const deadline = this.calls.deadline();
    if (this.usableLease() && (await this.keepalive(deadline))) return;
    await this.grant(deadline);
  }

  /** Our leader key was written on `lease`: it is the key's lease now, and never a new term's. */
  leaderWritten(lease: string): void {
    this.leaderLease = lease;
    this.termLease = lease;
  }

  /**
   * Runs `fn` on our lease; when etcd no longer knows it, grants a new one and tries once more.
   * `newTerm` (an acquisition): never on a lease our leader key was written on before.
   */
  async onLease<T>(fn: (lease: string, deadline: number) => Promise<T>, newTerm = false): Promise<T> {
    const deadline = this.calls.deadline();
    const usable = this.usableLease();
    const lease =
      usable !== null && !(newTerm && usable === this.termLease) ? usable : await this.grant(deadline);
    try {
      return await fn(lease, deadline);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      this.forget(lease);
      return fn(await this.grant(deadline), deadline);
    }
  }

  /** etcd no longer knows `lease`: forgotten, if it is still ours. */
  forget(lease: string): void {
    if (this.lease === lease) this.lease = null;
  }
}
