/**
 * A private network for a LocalCluster that a test owns whole: etcd and every node each in a
 * network namespace of their own, joined by veth pairs to one bridge in the root namespace, on
 * a 10.x.y.0/24 that nothing on the machine uses. The bridge carries the address the test's
 * own clients connect from (10.x.y.1); etcd is 10.x.y.2, node i is 10.x.y.(10 + i).
 *
 * Inside a node's namespace nftables can then make that node refuse connections (a firewall
 * REJECT rule: `reject with tcp reset`, which the client sees as ECONNREFUSED) or cut it from
 * etcd, while the node itself stays alive — nothing outside the namespaces changes.
 *
 * Every name carries the prefix, the pid of the test process and a role (`pgwrl1234n0`), so a
 * run that died earlier is recognised by its dead pid: `removeStale()` kills the processes left
 * in its namespaces (only ever ones such a run started) and removes its namespaces and bridge.
 */
import { execFileSync } from 'node:child_process';
import { processAlive } from '../../src/actors/postgres/postmaster-pid.ts';
import type { LocalNetwork } from '../../src/local/cluster.ts';

export const IP = '/usr/sbin/ip';
export const NFT = '/usr/sbin/nft';
const PREFIX = 'pgwrl';
const NAME = new RegExp(`^${PREFIX}(\\d+)`);

const pause = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function run(argv: string[], input?: string): string {
  // spawns: ip nft (IP and NFT above, through `ip netns exec` for nft)
  return execFileSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: 10_000,
    ...(input === undefined ? {} : { input }),
  });
}

const ip = (...args: string[]): string => run([IP, ...args]);

function namespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(/\s+/)[0]!)
    .filter(Boolean);
}

function links(): string[] {
  return ip('-o', 'link', 'show')
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => Boolean(n));
}

/** Every process in namespace `ns` (by pid), then the namespace itself. */
function removeNamespace(ns: string): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = ip('netns', 'pids', ns)
      .split('\n')
      .map(Number)
      .filter((p) => p > 0);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    pause(100);
  }
  ip('netns', 'delete', ns);
}

/** Namespaces and links of earlier runs whose test process is gone. */
export function removeStale(): string[] {
  const removed: string[] = [];
  for (const ns of namespaces()) {
    const m = NAME.exec(ns);
    if (m && !processAlive(Number(m[1]))) {
      removeNamespace(ns);
      removed.push(ns);
    }
  }
  for (const link of links()) {
    const m = NAME.exec(link);
    if (m && !processAlive(Number(m[1]))) {
      try {
        ip('link', 'delete', link);
        removed.push(link);
      } catch {
        // a veth end goes with its peer's namespace
      }
    }
  }
  return removed;
}

/** A /24 of 10.0.0.0/8 that no address or route of the root namespace touches. */
function freeSubnet(): string {
  const used = `${ip('-4', '-o', 'addr', 'show')}\n${ip('-4', 'route', 'show', 'table', 'all')}`;
  for (let k = 0; k < 200; k++) {
    const n = (process.pid + k * 7919) % 25_600;
    const net = `10.${100 + Math.floor(n / 256)}.${n % 256}`;
    if (!used.includes(`${net}.`)) return net;
  }
  throw new Error('no free 10.x.y.0/24 for the test network');
}

export class TestNetwork {
  readonly subnet: string;
  readonly bridge: string;
  readonly etcdNs: string;
  readonly clientHost: string;
  readonly etcdHost: string;
  private readonly id: string;
  private readonly created: string[] = [];
  private readonly veths: string[] = [];
  private bridgeUp = false;

  /** `etcdMembers` namespaces for etcd (default one); member i is 10.x.y.(2 + i). */
  constructor(
    readonly nodes: number,
    readonly etcdMembers = 1,
  ) {
    if (etcdMembers < 1 || etcdMembers > 7) throw new Error('1 to 7 etcd members');
    this.id = `${PREFIX}${process.pid}`;
    this.subnet = freeSubnet();
    this.bridge = `${this.id}br`;
    this.etcdNs = this.etcdMemberNs(0);
    this.clientHost = `${this.subnet}.1`;
    this.etcdHost = this.etcdMemberHost(0);
  }

  etcdMemberNs(member: number): string {
    return member === 0 ? `${this.id}e` : `${this.id}e${member}`;
  }

  etcdMemberHost(member: number): string {
    return `${this.subnet}.${2 + member}`;
  }

  nodeNs(index: number): string {
    return `${this.id}n${index}`;
  }

  nodeHost(index: number): string {
    return `${this.subnet}.${10 + index}`;
  }

  /** Runs `argv` inside namespace `ns`: `ip netns exec` execs in place, the pid stays the program's. */
  prefix(ns: string): string[] {
    return [IP, 'netns', 'exec', ns];
  }

  create(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.bridgeUp = true;
    ip('addr', 'add', `${this.clientHost}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (let m = 0; m < this.etcdMembers; m++)
      this.join(this.etcdMemberNs(m), m === 0 ? 'e' : `e${m}`, this.etcdMemberHost(m));
    for (let i = 0; i < this.nodes; i++) this.join(this.nodeNs(i), `n${i}`, this.nodeHost(i));
  }

  /** Namespace `ns` with loopback up and a veth whose other end is on the bridge. */
  private join(ns: string, role: string, address: string): void {
    ip('netns', 'add', ns);
    this.created.push(ns);
    const outside = `${this.id}h${role}`;
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    this.veths.push(outside);
    ip('link', 'set', outside, 'master', this.bridge);
    ip('link', 'set', outside, 'up');
    run([...this.prefix(ns), IP, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    run([...this.prefix(ns), IP, 'link', 'set', 'eth0', 'up']);
    run([...this.prefix(ns), IP, 'link', 'set', 'lo', 'up']);
  }

  /** What LocalCluster needs to put etcd and the agents on this network. */
  local(): LocalNetwork {
    return {
      etcdHost: this.etcdHost,
      nodeHost: (i) => this.nodeHost(i),
      clients: `${this.subnet}.0/24`,
      etcdPrefix: this.prefix(this.etcdNs),
      nodePrefix: (i) => this.prefix(this.nodeNs(i)),
    };
  }

  /** nftables commands run in node `index`'s namespace, in one table that `clear()` drops. */
  private nft(index: number, script: string): void {
    this.nftIn(this.nodeNs(index), script);
  }

  private nftIn(ns: string, script: string): void {
    run([...this.prefix(ns), NFT, '-f', '-'], script);
  }

  /**
   * Every packet between the namespaces of `a` and those of `b` vanishes, both ways: each side
   * drops what arrives from the other at its input hook. Dropping at the receiver and never at
   * the sender matters: a packet dropped on its way out fails the sender's call at once (EPERM),
   * which no real partition does; here calls hang and time out, as across a cut cable.
   */
  partition(a: Array<{ ns: string; host: string }>, b: Array<{ ns: string; host: string }>): void {
    const drop = (ns: string, from: string[]) =>
      this.nftIn(
        ns,
        `table inet pgwarden_test {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr { ${from.join(', ')} } drop
  }
}
`,
      );
    for (const x of a)
      drop(
        x.ns,
        b.map((y) => y.host),
      );
    for (const y of b)
      drop(
        y.ns,
        a.map((x) => x.host),
      );
  }

  /** Node `index` and etcd member `member` as partition() takes them. */
  nodeEnd(index: number): { ns: string; host: string } {
    return { ns: this.nodeNs(index), host: this.nodeHost(index) };
  }

  etcdEnd(member: number): { ns: string; host: string } {
    return { ns: this.etcdMemberNs(member), host: this.etcdMemberHost(member) };
  }

  /**
   * The bridge side of node `index`'s cable set down (false) or up (true): the node hears nobody
   * and nobody hears it, clients included; its packets vanish (the link has no carrier).
   */
  setLink(index: number, up: boolean): void {
    ip('link', 'set', `${this.id}hn${index}`, up ? 'up' : 'down');
  }

  /** Every rule in every namespace of this network removed and every cable up again. */
  healAll(): void {
    const all = [
      ...Array.from({ length: this.nodes }, (_, i) => this.nodeNs(i)),
      ...Array.from({ length: this.etcdMembers }, (_, m) => this.etcdMemberNs(m)),
    ];
    for (const ns of all) this.clearNs(ns);
    for (let i = 0; i < this.nodes; i++) this.setLink(i, true);
  }

  /**
   * Node `index` answers every TCP packet to `ports` from anywhere but itself with a reset:
   * connects fail with ECONNREFUSED and open connections (a replica's stream) are torn down. Its
   * own connections out — to etcd, to its peers — are untouched.
   */
  refuse(index: number, ports: number[]): void {
    this.nft(
      index,
      `table inet pgwarden_test {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname != "lo" tcp dport { ${ports.join(', ')} } reject with tcp reset
  }
}
`,
    );
  }

  /**
   * Node `index` and etcd no longer hear each other: packets both ways are dropped (calls hang,
   * then time out). Both ways: with only its own packets dropped, etcd's watch events would
   * still arrive on the open connection and tell the node what happened.
   */
  cutFromEtcd(index: number, etcdPort: number): void {
    this.nft(
      index,
      `table inet pgwarden_test {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr ${this.etcdHost} tcp dport ${etcdPort} drop
  }
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr ${this.etcdHost} tcp sport ${etcdPort} drop
  }
}
`,
    );
  }

  /** Every rule of node `index` removed. */
  clear(index: number): void {
    this.clearNs(this.nodeNs(index));
  }

  private clearNs(ns: string): void {
    try {
      run([...this.prefix(ns), NFT, 'delete', 'table', 'inet', 'pgwarden_test']);
    } catch (err) {
      if (!/No such file or directory/.test(String((err as { stderr?: string }).stderr))) throw err;
    }
  }

  /** The rules of node `index`, as nft prints them. */
  rules(index: number): string {
    return run([...this.prefix(this.nodeNs(index)), NFT, 'list', 'ruleset']);
  }

  /**
   * Every veth pair, every namespace (with any process still in it, by pid) and the bridge. The
   * veths go first: a namespace outlives its name for as long as sockets in it still time out
   * (a connection to etcd whose packets were dropped retransmits for a minute or two), and its
   * veth with it — deleted by name, the pair goes now and the empty namespace is the kernel's
   * to free.
   */
  destroy(): void {
    const errors: string[] = [];
    for (const veth of this.veths.splice(0)) {
      try {
        ip('link', 'delete', veth);
      } catch (err) {
        errors.push(`${veth}: ${(err as Error).message}`);
      }
    }
    for (const ns of this.created.splice(0)) {
      try {
        removeNamespace(ns);
      } catch (err) {
        errors.push(`${ns}: ${(err as Error).message}`);
      }
    }
    if (this.bridgeUp) {
      try {
        ip('link', 'delete', this.bridge);
        this.bridgeUp = false;
      } catch (err) {
        errors.push(`${this.bridge}: ${(err as Error).message}`);
      }
    }
    if (errors.length > 0) throw new Error(`test network not fully removed: ${errors.join('; ')}`);
  }

  /** Names of this run still on the machine (none after `destroy()`). */
  leftovers(): string[] {
    return [...namespaces(), ...links()].filter((n) => n.startsWith(this.id));
  }
}
