/**
 * A watchdog device for integration tests, speaking Patroni's `driver: testing` protocol on a
 * named pipe: `Ctimeout=N\n` (re)arms it with N seconds, `1` keeps it alive, `V` (magic close)
 * stops it. It counts down as a device would — a writer that goes away without `V` (kill -9)
 * leaves it counting — and when the count runs out it calls `onFire`, which plays the reset of the
 * host (the test kills the node's agent and postmaster). Both Patroni and pgwarden write to it.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, constants as fsc, openSync } from 'node:fs';
import { Socket } from 'node:net';

export type WatchdogOp =
  | { at: number; op: 'timeout'; seconds: number }
  | { at: number; op: 'keepalive' | 'close' };

export class FifoWatchdog {
  readonly ops: WatchdogOp[] = [];
  readonly firings: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timeoutMs: number | null = null;
  private pending = '';
  private readonly socket: Socket;

  /** Makes the pipe (owned by `owner`, who runs the agent) and starts reading it. */
  constructor(
    readonly path: string,
    owner: { uid: number; gid: number } | null,
    private readonly onFire: () => void,
  ) {
    execFileSync('mkfifo', ['-m', '0600', path]);
    if (owner) chownSync(path, owner.uid, owner.gid);
    // Read and write: the pipe never reaches end-of-file when a writer goes, as a device never does.
    const fd = openSync(path, fsc.O_RDWR | fsc.O_NONBLOCK);
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.on('data', (chunk) => this.take(chunk.toString('latin1')));
    this.socket.on('error', () => {});
  }

  get armed(): boolean {
    return this.timeoutMs !== null;
  }

  /** What the writer did, in order: "timeout 15", "keepalive", "close". */
  sequence(): string[] {
    return this.ops.map((o) => (o.op === 'timeout' ? `timeout ${o.seconds}` : o.op));
  }

  private take(text: string): void {
    this.pending += text;
    for (;;) {
      if (this.pending.startsWith('C')) {
        const end = this.pending.indexOf('\n');
        if (end < 0) return;
        const m = /^Ctimeout=(\d+)$/.exec(this.pending.slice(0, end));
        this.pending = this.pending.slice(end + 1);
        if (m) {
          this.ops.push({ at: Date.now(), op: 'timeout', seconds: Number(m[1]) });
          this.arm(Number(m[1]) * 1000);
        }
        continue;
      }
      const c = this.pending[0];
      if (c === undefined) return;
      this.pending = this.pending.slice(1);
      if (c === '1') {
        this.ops.push({ at: Date.now(), op: 'keepalive' });
        if (this.timeoutMs !== null) this.arm(this.timeoutMs);
      } else if (c === 'V') {
        this.ops.push({ at: Date.now(), op: 'close' });
        this.disarm();
      }
    }
  }

  private arm(ms: number): void {
    this.timeoutMs = ms;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timeoutMs = null;
      // The reset is done when onFire returns (every process of the host signalled): timed after it.
      this.onFire();
      this.firings.push(Date.now());
    }, ms);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timeoutMs = null;
  }

  close(): void {
    this.disarm();
    this.socket.destroy();
  }
}
