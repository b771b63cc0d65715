/**
 * The timeline a standby replays, exactly: IDENTIFY_SYSTEM on a physical replication connection
 * to itself (what Patroni's get_replica_timeline does). On a standby it answers the timeline of
 * the last replayed record. SQL has only pg_control's checkpoint and minimum-recovery timelines,
 * which still name the previous timeline after a switch until the next restartpoint, and the WAL
 * receiver's received_tli, which exists only while it streams. Taken for the replica's own, a
 * lagging timeline with a position past that timeline's end in /history made a replica that had
 * merely lost its stream look diverged: pg_rewind against a leader on its own timeline (seen on
 * real processes, bench/chaos.ts; test/integration/postgres-process.test.ts).
 *
 * The agent's own pg_hba line for replication over the local socket (conf.ts) lets it in.
 */
import pg from 'pg';
import type { PostgresStatus } from '../postgres.ts';

export async function replayTimeline(config: pg.ClientConfig): Promise<number> {
  // `replication` is a startup parameter node-postgres passes through; its types do not name it.
  const client = new pg.Client({ ...config, replication: 'true' } as pg.ClientConfig);
  client.on('error', () => {});
  await client.connect();
  try {
    const res = await client.query<{ timeline: number | string }>('IDENTIFY_SYSTEM');
    const tli = Number(res.rows[0]?.timeline);
    if (!Number.isInteger(tli) || tli < 1) throw new Error(`IDENTIFY_SYSTEM answered timeline ${tli}`);
    return tli;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The replayed timeline of a standby that does not stream, asked again only when the replayed
 * position or pg_control's timeline moved (a stuck replica is sampled every second; a
 * replication connection each time is not free). Unknown rather than a guess when
 * IDENTIFY_SYSTEM fails: a lagging timeline made replicas look diverged and be rewound for
 * nothing; an unknown one only keeps this node from looking fit to take over until it streams
 * again.
 */
export class ReplayTimelines {
  /** The last IDENTIFY_SYSTEM error, logged once until it changes or an answer comes. */
  private failure: string | null = null;
  /** The timeline IDENTIFY_SYSTEM gave for one replayed position and pg_control timeline. */
  private cache: { key: string; timeline: number } | null = null;

  constructor(private readonly log: (msg: string) => void) {}

  /** The server is not running: what it replays is asked again once it runs. */
  forget(): void {
    this.cache = null;
  }

  /** The timeline a standby sampled as `status` replays (null: unknown). */
  async of(status: PostgresStatus, config: pg.ClientConfig): Promise<number | null> {
    const key = `${status.replayedLsn}/${status.timeline}`;
    if (this.cache?.key === key) return this.cache.timeline;
    return replayTimeline({ ...config, query_timeout: 15_000 }).then(
      (tli) => {
        this.failure = null;
        this.cache = { key, timeline: tli };
        return tli;
      },
      (err) => {
        const message = (err as Error).message;
        if (message !== this.failure)
          this.log(`IDENTIFY_SYSTEM: ${message}; timeline unknown until it answers`);
        this.failure = message;
        return null;
      },
    );
  }
}
