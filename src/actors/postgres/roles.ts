/**
 * The roles a new cluster needs, made once while the server listens on a private socket only:
 * after initdb, and after a custom bootstrap (a restore), where they may exist already with
 * other passwords — so each is made or updated, as Patroni's create_or_update_role does.
 */
import pg from 'pg';
import type { NodeConfig, RoleCredentials } from '../../config/types.ts';

/** What pg_rewind calls on the source when it connects as a non-superuser. */
const REWIND_FUNCTIONS = [
  'pg_ls_dir(text, boolean, boolean)',
  'pg_stat_file(text, boolean)',
  'pg_read_binary_file(text)',
  'pg_read_binary_file(text, bigint, bigint, boolean)',
];

/**
 * The replication role, and the rewind role with its grants; with `superuser` (a restored
 * cluster, whose superuser's password nobody here knows) the superuser's password too.
 */
export async function ensureRoles(
  config: NodeConfig,
  socketDir: string,
  opts: { superuser: boolean },
): Promise<void> {
  const auth = config.postgresql.authentication;
  const client = new pg.Client({
    host: socketDir,
    port: config.postgresql.listen.port,
    user: auth.superuser.username,
    password: auth.superuser.password,
    database: 'postgres',
    connectionTimeoutMillis: 10_000,
  });
  // A session ended between queries is an 'error' event: unheard, it would end the agent.
  client.on('error', () => {});
  await client.connect();
  try {
    // Only this session's commits need not wait for a synchronous standby: there is none yet.
    await client.query('SET synchronous_commit = local');
    const upsert = async (cred: RoleCredentials, options: string) => {
      const exists = await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [
        cred.username,
      ]);
      const verb = exists.rowCount ? 'ALTER' : 'CREATE';
      const password = cred.password !== undefined ? ` PASSWORD ${client.escapeLiteral(cred.password)}` : '';
      await client.query(
        `${verb} ROLE ${client.escapeIdentifier(cred.username)} WITH ${options}LOGIN${password}`,
      );
    };
    if (opts.superuser && auth.superuser.password !== undefined) await upsert(auth.superuser, 'SUPERUSER ');
    if (auth.replication.username !== auth.superuser.username) await upsert(auth.replication, 'REPLICATION ');
    if (auth.rewind && auth.rewind.username !== auth.superuser.username) {
      await upsert(auth.rewind, '');
      const who = client.escapeIdentifier(auth.rewind.username);
      for (const fn of REWIND_FUNCTIONS) {
        await client.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${who}`);
      }
    }
  } finally {
    await client.end();
  }
}
