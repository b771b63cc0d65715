/**
 * Every kv call of the DCS layer runs within Patroni's retry budget (retry_timeout): a call gets
 * what is left of its operation's deadline, is retried only when the failure certainly did not
 * reach etcd, and ends as a DcsError otherwise. One place for this, so that no call can outlive
 * the lease it is meant to protect.
 */
import { type KvCallOptions, LeaseNotFoundError } from '../../transport/etcd-keys.ts';
import { type Clock, monotonicNow } from '../clock.ts';
import { DcsError } from '../dcs.ts';

/** A backend failure worth retrying within the retry budget (nothing reached etcd). */
export class KvTransientError extends Error {
  override name = 'KvTransientError';
}

const RETRY_PAUSE_MS = 100;

export class BoundedCalls {
  private retryTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    retryTimeoutSeconds: number,
  ) {
    this.retryTimeoutMs = retryTimeoutSeconds * 1000;
  }

  /** Dynamic retry_timeout: the budget of every call from now on. */
  setRetryTimeout(seconds: number): void {
    this.retryTimeoutMs = seconds * 1000;
  }

  /** No call starts from now on. */
  close(): void {
    this.closed = true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(() => resolve(), ms));
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new DcsError(`${what}: no answer within ${this.retryTimeoutMs} ms`)),
        ms,
      );
      p.then(
        (v) => {
          this.clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /** Operations made of several kv calls share one budget, as in Patroni. */
  deadline(): number {
    return monotonicNow(this.clock) + this.retryTimeoutMs;
  }

  /**
   * Runs one kv call within the retry budget, retrying only failures that certainly did not
   * reach etcd. Everything else except LeaseNotFoundError becomes a DcsError.
   */
  async call<T>(
    what: string,
    fn: (opts: KvCallOptions) => Promise<T>,
    deadline = this.deadline(),
  ): Promise<T> {
    if (this.closed) throw new DcsError(`${what}: client closed`);
    for (;;) {
      const remaining = deadline - monotonicNow(this.clock);
      try {
        if (remaining <= 0) throw new DcsError(`${what}: retry timeout exceeded`);
        return await this.withTimeout(fn({ timeoutMs: remaining }), remaining, what);
      } catch (err) {
        if (err instanceof LeaseNotFoundError || err instanceof DcsError) throw err;
        const left = deadline - monotonicNow(this.clock);
        if (err instanceof KvTransientError && left > RETRY_PAUSE_MS && !this.closed) {
          await this.sleep(RETRY_PAUSE_MS);
          continue;
        }
        throw new DcsError(`${what}: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }
}
