/**
 * A 3-member etcd cluster for the chaos harness, one member per network namespace of the test
 * network. Members are killed (-9) and started again on their own data, as a crashed etcd host
 * that comes back; a quorum is lost by killing two.
 */
import { join } from 'node:path';
import { type EtcdHandle, startEtcd } from '../../../src/local/etcd-server.ts';
import type { TestNetwork } from '../../../test/helpers/netns.ts';
import { sleep } from '../time.ts';

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

export class EtcdCluster {
  private readonly members: Array<EtcdHandle | null>;

  constructor(
    private readonly net: TestNetwork,
    private readonly dir: string,
  ) {
    this.members = Array.from({ length: net.etcdMembers }, () => null);
  }

  get size(): number {
    return this.members.length;
  }

  memberName(m: number): string {
    return `etcd${m + 1}`;
  }

  endpoint(m: number): string {
    return `http://${this.net.etcdMemberHost(m)}:${CLIENT_PORT}`;
  }

  endpoints(): string[] {
    return this.members.map((_, m) => this.endpoint(m));
  }

  private initialCluster(): string {
    return this.members
      .map((_, m) => `${this.memberName(m)}=http://${this.net.etcdMemberHost(m)}:${PEER_PORT}`)
      .join(',');
  }

  isRunning(m: number): boolean {
    return this.members[m] !== null;
  }

  /** Member `m` on its own data dir; it rejoins the cluster it was part of. */
  private startMember(m: number): Promise<EtcdHandle> {
    return startEtcd({
      name: this.memberName(m),
      initialCluster: this.initialCluster(),
      dataDir: join(this.dir, this.memberName(m)),
      host: this.net.etcdMemberHost(m),
      clientPort: CLIENT_PORT,
      peerPort: PEER_PORT,
      prefix: this.net.prefix(this.net.etcdMemberNs(m)),
      // A member alone is never healthy: the caller waits for the quorum as a whole.
      waitHealthy: false,
    });
  }

  /** Every member at once (a new cluster needs its peers to elect), then a healthy quorum. */
  async start(timeoutMs = 30_000): Promise<void> {
    const handles = await Promise.all(this.members.map((_, m) => this.startMember(m)));
    handles.forEach((h, m) => {
      this.members[m] = h;
    });
    if (!(await this.waitHealthy(timeoutMs))) throw new Error('etcd cluster did not become healthy');
  }

  /** kill -9 of member `m`; its data stays. */
  async kill(m: number): Promise<void> {
    const h = this.members[m];
    if (!h) return;
    try {
      process.kill(h.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    await h.stop({ keepData: true });
    this.members[m] = null;
  }

  async restart(m: number): Promise<void> {
    if (this.members[m]) return;
    this.members[m] = await this.startMember(m);
  }

  /** Some running member answers /health true (it has a leader and a quorum). */
  async waitHealthy(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (let m = 0; m < this.members.length; m++) {
        if (!this.members[m]) continue;
        try {
          const res = await fetch(`${this.endpoint(m)}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          if (body.health === 'true') return true;
        } catch {
          // next member
        }
      }
      await sleep(200);
    }
    return false;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (h, m) => {
        if (h) await h.stop({ keepData: true });
        this.members[m] = null;
      }),
    );
  }
}
