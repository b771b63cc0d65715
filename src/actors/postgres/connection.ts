/**
 * How the agent talks SQL to its own server: as the superuser over the unix socket, through a
 * small pool made on first use and dropped whenever the server goes away (a smart shutdown would
 * otherwise wait on our idle connections). An idle client's error must not crash the process.
 */
import pg from 'pg';
import type { NodeConfig } from '../../config/types.ts';
import { socketDirFor } from './conf.ts';

/** The connection to this node's server, for the pool and for one-off clients. */
export function connectionConfig(config: NodeConfig): pg.ClientConfig {
  const su = config.postgresql.authentication.superuser;
  return {
    host: socketDirFor(config),
    port: config.postgresql.listen.port,
    user: su.username,
    password: su.password,
    database: 'postgres',
    application_name: 'pgwarden',
    connectionTimeoutMillis: 5_000,
  };
}

export class SqlPool {
  private pool: pg.Pool | null = null;

  constructor(
    /** The configuration as it is now (a reload may change it). */
    private readonly config: () => NodeConfig,
    private readonly log: (msg: string) => void,
  ) {}

  get(): pg.Pool {
    if (!this.pool) {
      const pool = new pg.Pool({
        ...connectionConfig(this.config()),
        max: 2,
        idleTimeoutMillis: 30_000,
        query_timeout: 15_000,
      });
      // An idle client dies when the server stops; unhandled, that error would crash the process.
      pool.on('error', (err) => this.log(`idle connection lost: ${err.message}`));
      this.pool = pool;
    }
    return this.pool;
  }

  async drop(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end().catch(() => {});
  }
}
