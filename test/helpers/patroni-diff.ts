/**
 * What the differential tests against the real Patroni 3.0.2 share (patroni-diff.test.ts over
 * REST, patronictl-diff.test.ts with the real patronictl): the two clusters from the same YAML,
 * bounded waits until both settle, the substitutions that make their answers comparable, JSON and
 * line differences, and the table of deliberate deviations (each explained under a heading of
 * docs/patroni-differences.md) that every difference found must match.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentArgv } from '../../bench/lib/agents.ts';
import { type ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { dumpLogs, sleep } from './cluster-tools.ts';
import { osUser, program, root } from './prerequisites.ts';

export type Kind = 'patroni' | 'pgwarden';
export const KINDS: Kind[] = ['patroni', 'pgwarden'];
export const DCS = { ttl: 10, loop_wait: 2, retry_timeout: 4 };
export const DOC = join(import.meta.dirname, '../../docs/patroni-differences.md');

export const NEEDS = [
  program('/usr/bin/patroni', 'patroni'),
  program('/usr/bin/etcd', 'etcd-server'),
  program('/usr/lib/postgresql/15/bin/postgres', 'postgresql-15'),
  root('the agents run as the postgres OS user'),
  osUser('postgres'),
];

export interface Side {
  kind: Kind;
  scope: string;
  dir: string;
  cluster: LocalCluster;
  /** The members by role as last seen settled (a switchover swaps them). */
  leader: ClusterNode;
  replica: ClusterNode;
}

/** Member names by role at the moment a request is sent. */
export interface Names {
  leader: string;
  replica: string;
}

export const namesOf = (side: Side): Names => ({ leader: side.leader.name, replica: side.replica.name });

/** GET /cluster as both answer it (the fields the waits read). */
export interface ClusterDoc {
  members: Array<{
    name: string;
    role: string;
    state: string;
    pending_restart?: boolean;
    scheduled_restart?: unknown;
    [k: string]: unknown;
  }>;
  pause?: boolean;
  scheduled_switchover?: unknown;
}

/**
 * Starts the Patroni and the pgwarden cluster side by side, node1 alone first and node2 once node1
 * leads, so that both clusters have the same leader and replica names (and patronictl lists their
 * members in the same order). Returns the sides, and a stop that stops everything it started.
 */
export async function startSides(
  prefix: string,
): Promise<{ sides: Record<Kind, Side>; stop: (failed: boolean) => Promise<void> }> {
  const sides = {} as Record<Kind, Side>;
  const started: LocalCluster[] = [];
  const dirs: string[] = [];
  const stop = async (failed: boolean) => {
    if (failed) for (const c of started) dumpLogs(c);
    await Promise.all(started.map((c) => c.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      KINDS.map(async (kind) => {
        const scope = `${prefix}-${kind}`;
        const dir = mkdtempSync(join(tmpdir(), `pgwarden-${scope}-`));
        dirs.push(dir);
        const cluster = new LocalCluster({ dir, nodes: 2, scope, dcs: DCS, agentArgv: agentArgv(kind) });
        started.push(cluster);
        await cluster.init();
        const [first, second] = cluster.nodes as [ClusterNode, ClusterNode];
        cluster.startNode(first.name);
        const leads = (nodes: ClusterNode[]) =>
          nodes[0]?.status?.role === 'master' && nodes[0].status.state === 'running';
        if (!(await cluster.waitFor(leads, 60_000))) {
          dumpLogs(cluster);
          throw new Error(`${kind}: ${first.name} did not lead within 60 s`);
        }
        cluster.startNode(second.name);
        const side: Side = { kind, scope, dir, cluster, leader: first, replica: second };
        await settle(side, () => true, 100_000);
        sides[kind] = side;
      }),
    );
  } catch (err) {
    await stop(true);
    throw err;
  }
  return { sides, stop };
}

export async function clusterDoc(side: Side): Promise<ClusterDoc | null> {
  for (const n of [side.leader, side.replica]) {
    try {
      const res = await fetch(`${n.apiUrl}/cluster`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return (await res.json()) as ClusterDoc;
    } catch {
      // the other node
    }
  }
  return null;
}

/**
 * A settled side: one writable leader that the other node streams from (over REST), and the DCS
 * saying the same (GET /cluster: the leader running, the replica running or streaming) — what
 * patronictl reads — and `extra` holds of it. Updates side.leader and side.replica; throws at the
 * deadline with what it saw last.
 */
export async function settle(
  side: Side,
  extra: (doc: ClusterDoc) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const nodes = await side.cluster.poll();
    if (LocalCluster.isReady(nodes, () => true)) {
      const doc = await clusterDoc(side);
      last = JSON.stringify(doc?.members.map((m) => [m.name, m.role, m.state]));
      const leader = doc?.members.find((m) => m.role === 'leader' && m.state === 'running');
      const writable = nodes.find((n) => n.status?.role === 'master');
      const others = doc?.members.filter((m) => m !== leader) ?? [];
      const replicasUp = others.every((m) => m.role === 'replica' && /^(running|streaming)$/.test(m.state));
      if (
        doc &&
        leader &&
        leader.name === writable?.name &&
        others.length === 1 &&
        replicasUp &&
        extra(doc)
      ) {
        side.leader = writable;
        side.replica = nodes.find((n) => n !== writable)!;
        return;
      }
    } else {
      last = nodes.map((n) => `${n.name}:${n.status?.role}/${n.status?.state}`).join(' ');
    }
    await sleep(300);
  }
  throw new Error(`${side.kind} did not settle within ${timeoutMs} ms (last: ${last})`);
}

/** Until `until` holds of GET /cluster on both sides, at most 20 s: if it never does, the comparison shows why. */
export async function waitUntil(
  sides: Record<Kind, Side>,
  until: (doc: ClusterDoc) => boolean,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  const holds = async (s: Side) => {
    const doc = await clusterDoc(s);
    return doc !== null && until(doc);
  };
  while (Date.now() < deadline) {
    if ((await Promise.all(KINDS.map((k) => holds(sides[k])))).every(Boolean)) return;
    await sleep(300);
  }
}

/**
 * A date or time as its shape, digits zeroed and fractions of a second dropped (Python's
 * isoformat() leaves them out when they are zero): the format is compared, not the instant.
 */
export const dateShape = (text: string) =>
  text.replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?/g, (d) =>
    d.replace(/\.\d+/, '').replace(/\d/g, '0'),
  );

/** Both sides settled (each with the same condition), at once. */
export const settleBoth = (sides: Record<Kind, Side>, extra?: (doc: ClusterDoc) => boolean) =>
  Promise.all(KINDS.map((k) => settle(sides[k], extra)));

/**
 * Member names, scope and addresses replaced by placeholders that cannot clash (both clusters
 * name their members node1, node2); `names` are the roles as they were when the request was sent.
 */
export function substitute(text: string, side: Side, names: Names = namesOf(side)): string {
  const node = (name: string) => side.cluster.node(name);
  const pairs: Array<[string, string]> = [];
  for (const [role, name] of [
    ['leader', names.leader],
    ['replica', names.replica],
  ] as const) {
    const n = node(name);
    pairs.push([n.apiUrl, `<${role}-api>`], [`${n.host}:${n.pgPort}`, `<${role}-pg>`]);
    pairs.push([`port=${n.pgPort}`, `port=<${role}-port>`]);
  }
  pairs.push([names.leader, '<leader>'], [names.replica, '<replica>'], [side.scope, '<scope>']);
  let out = text;
  for (const [from, to] of pairs) out = out.split(from).join(to);
  return out;
}

/** Member lists are compared by member, whatever their order: by `name` (REST) or `Member` (patronictl). */
const memberKey = (x: unknown) => {
  const o = (x ?? {}) as { name?: unknown; Member?: unknown };
  return String(o.name ?? o.Member);
};

/** Differences between two JSON values: key sets everywhere, values exactly but under `volatile` keys. */
export function jsonDiff(a: unknown, b: unknown, path: string, out: string[], volatile: Set<string>): void {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
      out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      return;
    }
    const byName = (xs: unknown[]) => [...xs].sort((x, y) => memberKey(x).localeCompare(memberKey(y)));
    const bs = byName(b);
    for (const [i, x] of byName(a).entries()) jsonDiff(x, bs[i], `${path}[${i}]`, out, volatile);
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    for (const k of ka.filter((x) => !kb.includes(x))) out.push(`${path}: key only in patroni: ${k}`);
    for (const k of kb.filter((x) => !ka.includes(x))) out.push(`${path}: key only in pgwarden: ${k}`);
    for (const k of ka.filter((x) => kb.includes(x))) {
      if (volatile.has(k)) continue;
      const [va, vb] = [(a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]];
      jsonDiff(va, vb, `${path}.${k}`, out, volatile);
    }
    return;
  }
  if (a !== b) out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

/**
 * Differences between two texts line by line (a longest common subsequence): a changed line is
 * `"patroni's" vs "pgwarden's"`, a line only one side printed is `only in <kind>: "..."`.
 */
export function lineDiff(a: string[], b: string[]): string[] {
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let [i, j] = [0, 0];
  let gone: string[] = [];
  let added: string[] = [];
  const flush = () => {
    const paired = Math.min(gone.length, added.length);
    for (let k = 0; k < paired; k++) out.push(`${JSON.stringify(gone[k])} vs ${JSON.stringify(added[k])}`);
    for (const l of gone.slice(paired)) out.push(`only in patroni: ${JSON.stringify(l)}`);
    for (const l of added.slice(paired)) out.push(`only in pgwarden: ${JSON.stringify(l)}`);
    gone = [];
    added = [];
  };
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      flush();
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) gone.push(a[i++]!);
    else added.push(b[j++]!);
  }
  flush();
  return out;
}

/** One atomic difference: a request or command, an aspect, and what differs. */
export interface Difference {
  id: string;
  aspect: string;
  detail: string;
}

/**
 * A deliberate deviation, explained in docs/patroni-differences.md under the heading `doc`. It
 * matches differences by id and detail (exact text or pattern); a difference no rule matches
 * fails the test, and so does a rule that matches nothing any more.
 */
export interface Deviation {
  doc: string;
  id: string | RegExp;
  aspect: string;
  detail: string | RegExp;
}

const matches = (pattern: string | RegExp, text: string) =>
  typeof pattern === 'string' ? pattern === text : pattern.test(text);
const explains = (d: Deviation, x: Difference) =>
  d.aspect === x.aspect && matches(d.id, x.id) && matches(d.detail, x.detail);

/** What no rule explains, and the rules that explain nothing found; printed when either is not empty. */
export function verdict(
  found: Difference[],
  expected: Deviation[],
): { unexpected: string[]; gone: string[] } {
  const unexpected = found
    .filter((x) => !expected.some((d) => explains(d, x)))
    .map((x) => `${x.id} [${x.aspect}]: ${x.detail}`);
  const gone = expected
    .filter((d) => !found.some((x) => explains(d, x)))
    .map((d) => `${d.id} [${d.aspect}]: ${d.detail}`);
  if (unexpected.length || gone.length) {
    process.stderr.write(
      `\n--- unexpected ---\n${unexpected.join('\n')}\n--- gone ---\n${gone.join('\n')}\n`,
    );
  }
  return { unexpected, gone };
}

/** The `## ` headings of docs/patroni-differences.md. */
export function docHeadings(): string[] {
  return readFileSync(DOC, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('## '))
    .map((l) => l.slice(3).trim());
}
