/** Read-only reports: `history`, `version`, `dsn`. */
import { PGWARDEN_VERSION } from '../../cluster/report.ts';
import { memberHostPort } from '../../cluster/topology.ts';
import { CliError } from '../errors.ts';
import type { Format, RoleChoice } from './choices.ts';
import type { CtlContext } from './context.ts';
import { type Cell, formatOutput, formatPgVersion } from './format.ts';
import { anyMember, membersWithRole } from './members.ts';

export const HISTORY_COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'];

export async function runHistory(ctx: CtlContext, cluster: string, fmt: Format): Promise<void> {
  const view = await ctx.cluster(cluster);
  const rows: Cell[][] = (view.history ?? []).map((line) => {
    const row = [...line] as Cell[];
    while (row.length < HISTORY_COLUMNS.length) row.push('');
    return row;
  });
  ctx.echo(formatOutput(HISTORY_COLUMNS, rows, { fmt, align: { TL: 'r', LSN: 'r' } }));
}

export async function runVersion(
  ctx: CtlContext,
  cluster: string | undefined,
  names: string[],
): Promise<void> {
  ctx.echo(`pgwarden version ${PGWARDEN_VERSION}`);
  if (!cluster) return;
  ctx.echo('');
  const view = await ctx.cluster(cluster);
  for (const m of membersWithRole(view, 'any')) {
    if (!m.data.api_url || (names.length > 0 && !names.includes(m.name))) continue;
    try {
      const r = await ctx.rest.call(m, 'GET');
      const doc = JSON.parse(r.text) as { patroni?: { version?: string }; server_version?: number };
      const pg = doc.server_version ? ` PostgreSQL ${formatPgVersion(doc.server_version)}` : '';
      ctx.echo(`${m.name}: Patroni ${doc.patroni?.version ?? 'None'}${pg}`);
    } catch (err) {
      ctx.echo(`${m.name}: failed to get version: ${(err as Error).message}`);
    }
  }
}

export async function runDsn(
  ctx: CtlContext,
  cluster: string,
  o: { role?: RoleChoice; member?: string },
): Promise<void> {
  if (o.member !== undefined && o.role !== undefined) {
    throw new CliError('--role and --member are mutually exclusive options', 1);
  }
  const role: RoleChoice = o.member !== undefined ? 'any' : (o.role ?? 'leader');
  const view = await ctx.cluster(cluster);
  const m = anyMember(view, role, o.member);
  const hp = m ? memberHostPort(m) : null;
  if (!m || !hp) throw new CliError('Can not find a suitable member', 1);
  ctx.echo(`host=${hp.host} port=${hp.port}`);
}
