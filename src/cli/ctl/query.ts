/**
 * `query`: SQL on a member of the cluster, as patronictl 3.0.2's query runs it — the leader by
 * default, or the member or role asked (a role checked with pg_is_in_recovery), connected as
 * libpq would be from the user's environment (-U, -d, --password prompt, PGPASSWORD, ~/.pgpass),
 * and the rows printed as patronictl prints psycopg2's values (Python's str of each). An SQL
 * error, or no member to ask, is a row of its own (a timestamp and the message), exit code 0.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { memberHostPort } from '../../cluster/topology.ts';
import { CliError } from '../errors.ts';
import type { Format, RoleChoice } from './choices.ts';
import type { CtlContext } from './context.ts';
import { type Cell, formatOutput, timestamp } from './format.ts';
import { anyMember } from './members.ts';

export interface QueryOptions {
  role?: RoleChoice;
  member?: string;
  command?: string;
  file?: string;
  username?: string;
  password: boolean;
  dbname?: string;
  format: Format;
  delimiter: string;
  W: boolean;
  watch?: number;
}

interface Result {
  columns: string[] | null;
  /** Each value as the text formats show it (Python's str), and as json and yaml carry it. */
  rows: Array<{ text: string[]; data: unknown[] }>;
}

/** PostgreSQL type OIDs whose text patronictl shows differently (psycopg2 turns them into Python values). */
const BOOL = 16;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
/** Types node-postgres parses (JSON, arrays): shown as Python shows the dict or list psycopg2 makes. */
const PARSED = new Set([114, 3802, 1000, 1005, 1007, 1009, 1015, 1016, 1021, 1022, 1231]);

/** Python's repr of a JSON value or array element, as str() of a dict or list shows it. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string')
    return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}

/** A timestamp's text as Python's datetime prints it: six fraction digits (none when zero), `+HH:MM`. */
export function pyTimestamp(text: string): string {
  const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(\d+))?([+-]\d\d)?(?::?(\d\d))?$/.exec(text);
  if (!m) return text;
  const [, base, fraction, hours, minutes] = m;
  const micros = fraction && Number(fraction) !== 0 ? `.${fraction.padEnd(6, '0').slice(0, 6)}` : '';
  const offset = hours !== undefined ? `${hours}:${minutes ?? '00'}` : '';
  return `${base}${micros}${offset}`;
}

/** One value as patronictl prints it (Python's str of what psycopg2 returns). */
export function pyCell(value: unknown, type: number): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value !== 'string') return pyRepr(value);
  if (type === BOOL) return value === 't' ? 'True' : 'False';
  if (type === TIMESTAMP || type === TIMESTAMPTZ) return pyTimestamp(value);
  return value;
}

const NUMBERS = new Set([20, 21, 23, 26, 700, 701]);

/** One value as json and yaml carry it: numbers, booleans, null, JSON and arrays as such; text else. */
export function dataCell(value: unknown, type: number): unknown {
  if (value === null || value === undefined || typeof value !== 'string') return value ?? null;
  if (type === BOOL) return value === 't';
  if (NUMBERS.has(type) && Number.isFinite(Number(value))) return Number(value);
  return pyCell(value, type);
}

/** The error row: patronictl's timestamp(0) and the SQLSTATE (or the message, on one line). */
function failed(err: unknown): Result {
  const e = err as { code?: string; message?: string };
  const what =
    typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : (e.message ?? String(err));
  return message(`ERROR, SQLSTATE: ${what.replace(/\n/g, ' ')}`);
}

/** A row of patronictl's timestamp(0) and a message, without a header. */
function message(text: string): Result {
  const row = [timestamp(0), text];
  return { columns: null, rows: [{ text: row, data: row }] };
}

async function queryMember(
  ctx: CtlContext,
  cluster: string,
  sql: string,
  role: RoleChoice,
  o: QueryOptions,
  password?: string,
) {
  const member = anyMember(await ctx.cluster(cluster), role, o.member);
  const where = member && memberHostPort(member);
  const none = (): Result =>
    message(
      o.member !== undefined
        ? `No connection to member ${o.member} is available`
        : `No connection to role=${role} is available`,
    );
  if (!where) return none();
  const client = new pg.Client({
    host: where.host,
    port: where.port,
    ...(o.username !== undefined ? { user: o.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(o.dbname !== undefined ? { database: o.dbname } : {}),
    application_name: 'Patroni ctl',
    connectionTimeoutMillis: 5_000,
    types: {
      getTypeParser: (oid: number) => (PARSED.has(oid) ? pg.types.getTypeParser(oid) : (v: string) => v),
    },
  });
  client.on('error', () => {});
  try {
    await client.connect();
    if (role !== 'any' && role !== 'leader') {
      const r = await client.query<{ rec: string }>('SELECT pg_catalog.pg_is_in_recovery() AS rec');
      const inRecovery = r.rows[0]?.rec === 't';
      const fits = inRecovery
        ? ['replica', 'standby', 'standby-leader'].includes(role)
        : ['master', 'primary'].includes(role);
      if (!fits) return none();
    }
    const results = (await client.query({ text: sql, rowMode: 'array' })) as unknown as
      | pg.QueryArrayResult
      | pg.QueryArrayResult[];
    const last = Array.isArray(results) ? results.at(-1)! : results;
    // psycopg2's fetchall after a statement without rows: "no results to fetch".
    if (last.fields.length === 0) return failed(new Error('no results to fetch'));
    return {
      columns: last.fields.map((f) => f.name),
      rows: last.rows.map((r) => ({
        text: r.map((v, i) => pyCell(v, last.fields[i]!.dataTypeID)),
        data: r.map((v, i) => dataCell(v, last.fields[i]!.dataTypeID)),
      })),
    };
  } catch (err) {
    return failed(err);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function runQuery(ctx: CtlContext, cluster: string, o: QueryOptions): Promise<void> {
  let role = o.role;
  if (o.member !== undefined) {
    if (role !== undefined) throw new CliError('--role and --member are mutually exclusive options', 1);
    role = 'any';
  }
  role ??= 'leader';
  if (o.file !== undefined && o.command !== undefined)
    throw new CliError('--file and --command are mutually exclusive options', 1);
  if (o.file === undefined && o.command === undefined)
    throw new CliError('You need to specify either --command or --file', 1);
  let sql = o.command ?? '';
  if (o.file !== undefined) {
    try {
      sql = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
    } catch (err) {
      throw new CliError(`Invalid value for '--file' / '-f': '${o.file}': ${(err as Error).message}`, 2);
    }
  }
  const password = o.password ? await ctx.prompter.prompt('Password') : undefined;
  const every = o.watch ?? (o.W ? 2 : 0);
  for (;;) {
    const { columns, rows } = await queryMember(ctx, cluster, sql, role, o, password);
    const asData = o.format === 'json' || o.format === 'yaml' || o.format === 'yml';
    const cells = rows.map((r) => (asData ? r.data : r.text)) as Cell[][];
    // Without a header (a message row) patronictl prints the row alone.
    ctx.echo(
      columns === null && !asData
        ? cells.map((r) => r.join(o.delimiter)).join('\n')
        : formatOutput(columns ?? [], cells, { fmt: o.format, delimiter: o.delimiter }),
    );
    if (!every) return;
    await new Promise((r) => setTimeout(r, every * 1000));
  }
}
