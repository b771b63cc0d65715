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
