/** Roles created once, right after initdb, while the server listens on a private socket only. */
import pg from 'pg';
import type { NodeConfig } from '../../config/types.ts';

/** What pg_rewind calls on the source when it connects as a non-superuser. */
const REWIND_FUNCTIONS = [
  'pg_ls_dir(text, boolean, boolean)',
  'pg_stat_file(text, boolean)',
  'pg_read_binary_file(text)',
  'pg_read_binary_file(text, bigint, bigint, boolean)',
];

export async function createRoles(config: NodeConfig, socketDir: string): Promise<void> {
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
    const role = (name: string, password: string | undefined, extra: string) =>
      `CREATE ROLE ${client.escapeIdentifier(name)} WITH ${extra}LOGIN` +
      (password !== undefined ? ` PASSWORD ${client.escapeLiteral(password)}` : '');
    if (auth.replication.username !== auth.superuser.username) {
      await client.query(role(auth.replication.username, auth.replication.password, 'REPLICATION '));
    }
    if (auth.rewind && auth.rewind.username !== auth.superuser.username) {
      await client.query(role(auth.rewind.username, auth.rewind.password, ''));
      const who = client.escapeIdentifier(auth.rewind.username);
      for (const fn of REWIND_FUNCTIONS) {
        await client.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${who}`);
      }
    }
  } finally {
    await client.end();
  }
}
