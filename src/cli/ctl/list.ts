/** `list` and `topology`: the member table (patronictl's output_members) and its footer lines. */
import type { ClusterView } from '../../cluster/view.ts';
import { memberByName } from '../../cluster/view.ts';
import { clusterAsJson } from '../../http/cluster-json.ts';
import type { Format } from './choices.ts';
import type { CtlContext } from './context.ts';
import { type Cell, formatOutput, timestamp } from './format.ts';

type JsonMember = Record<string, unknown> & { name: string; role: string };

/** cluster_as_json as patronictl 3.0.2 computes it: `state` is the member's own state. */
export function ctlClusterJson(
  view: ClusterView,
  scope: string,
): Record<string, unknown> & { members: JsonMember[] } {
  const doc = clusterAsJson(view, scope) as Record<string, unknown> & { members: JsonMember[] };
  for (const m of doc.members) m['state'] = memberByName(view, m.name)?.data.state ?? '';
  return doc;
}

/** Members ordered as a tree: the leader, then who streams from whom (`replicatefrom`), indented `+ `. */
export function topologySort(members: readonly JsonMember[]): JsonMember[] {
  const isLeader = (m: JsonMember) => m.role.endsWith('leader');
  const leader = members.find(isLeader);
  const replicas = new Set(members.filter((m) => !isLeader(m)).map((m) => m.name));
  const children = new Map<string | null, JsonMember[]>();
  for (const m of members) {
    if (isLeader(m)) continue;
    const from = (m['tags'] as Record<string, unknown> | undefined)?.['replicatefrom'];
    const parent =
      typeof from === 'string' && from !== m.name && replicas.has(from) ? from : (leader?.name ?? null);
    children.set(parent, [...(children.get(parent) ?? []), m]);
  }
  const out: JsonMember[] = [];
  const seen = new Set<string>();
  const walk = (level: number, m: JsonMember | null, name: string | null) => {
    if (m) {
      if (seen.has(m.name)) return;
      seen.add(m.name);
      out.push(level > 0 ? { ...m, name: `${' '.repeat((level - 1) * 2)}+ ${m.name}` } : m);
    }
    for (const child of children.get(name) ?? []) walk(level + 1, child, child.name);
  };
  walk(0, leader ?? null, leader?.name ?? null);
  return out;
}

export function serviceInfo(doc: Record<string, unknown>): string[] {
  const info: string[] = [];
  if (doc['pause']) info.push('Maintenance mode: on');
  const s = doc['scheduled_switchover'] as Record<string, string> | undefined;
  if (s) {
    let line = `Switchover scheduled at: ${s['at']}`;
    for (const k of ['from', 'to']) if (s[k]) line += `\n${k.padStart(24)}: ${s[k]}`;
    info.push(line);
  }
  return info;
}

const OPTIONAL_COLUMNS = ['Pending restart', 'Scheduled restart', 'Tags'] as const;
const key = (column: string) => column.toLowerCase().replaceAll(' ', '_');

/** The rows of the member table (Cluster first), as output_members builds them. */
export function memberRows(
  view: ClusterView,
  name: string,
  extended = false,
  topology = false,
): { columns: string[]; rows: Cell[][]; doc: Record<string, unknown> } {
  const doc = ctlClusterJson(view, name);
  const columns = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
  const all = doc.members.filter((m) => 'host' in m);
  for (const c of OPTIONAL_COLUMNS) if (extended || all.some((m) => m[key(c)])) columns.push(c);
  const appendPort =
    all.some((m) => 'port' in m && m['port'] !== 5432) ||
    new Set(all.map((m) => m['host'])).size < all.length;
  const rows = (topology ? topologySort(doc.members) : doc.members).map((m) => {
    const lag = m['lag'];
    let host = (m['host'] as string | undefined) ?? '';
    if (appendPort && host && m['port']) host = `${host}:${m['port']}`;
    let scheduled: unknown = m['scheduled_restart'];
    if (scheduled && typeof scheduled === 'object') {
      const sr = scheduled as Record<string, unknown>;
      scheduled = `${sr['schedule']}${'postgres_version' in sr ? ` if version < ${sr['postgres_version']}` : ''}`;
    }
    const values: Record<string, unknown> = {
      cluster: name,
      member: m.name,
      host,
      role: m.role
        .replaceAll('_', ' ')
        .replace(/\w\S*/g, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase()),
      state: m['state'],
      tl: m['timeline'] ?? '',
      lag_in_mb: typeof lag === 'number' ? Math.round(lag / 1024 / 1024) : (lag ?? ''),
      pending_restart: m['pending_restart'] ? '*' : '',
      scheduled_restart: scheduled ?? '',
      tags: m['tags'] ?? '',
    };
    return columns.map((c) => (values[key(c)] ?? '') as Cell);
  });
  return { columns, rows, doc };
}

export function outputMembers(
  ctx: CtlContext,
  view: ClusterView,
  name: string,
  extended = false,
  fmt: Format = 'pretty',
): void {
  const { columns, rows, doc } = memberRows(view, name, extended, fmt === 'topology');
  ctx.echo(
    formatOutput(columns, rows, {
      fmt: fmt === 'topology' ? 'pretty' : fmt,
      align: { 'Lag in MB': 'r', TL: 'r' },
      header: ` Cluster: ${name} `,
    }),
  );
  if (fmt !== 'pretty' && fmt !== 'topology') return;
  const info = serviceInfo(doc);
  if (info.length > 0) ctx.echo(` ${info.join('\n ')}`);
}

export interface ListOptions {
  extended?: boolean;
  timestamp?: boolean;
  format: Format;
  W?: boolean;
  watch?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** list/topology, once or every `-w` seconds (`-W`: 2) until interrupted. */
export async function runList(ctx: CtlContext, names: readonly string[], o: ListOptions): Promise<void> {
  const clusters = names.length > 0 ? names : ctx.config.scope ? [ctx.config.scope] : [];
  if (clusters.length === 0) {
    process.stderr.write('WARNING - Listing members: No cluster names were provided\n');
    return;
  }
  const every = o.watch ?? (o.W ? 2 : 0);
  const clear = () => {
    if (every && process.stdout.isTTY) ctx.write('\x1b[2J\x1b[1;1H');
  };
  for (;;) {
    const views = await Promise.all(clusters.map((c) => ctx.cluster(c)));
    clear();
    if (o.timestamp) ctx.echo(timestamp(0));
    for (const [i, c] of clusters.entries()) outputMembers(ctx, views[i]!, c, o.extended, o.format);
    if (!every) return;
    await sleep(every * 1000);
  }
}
