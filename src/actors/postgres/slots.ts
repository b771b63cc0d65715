/**
 * Replication slots made as a plan says (cluster/replication-slots.ts): physical ones created with
 * WAL reserved at once (a standby may be cloned from an older position than its first connect),
 * logical ones created in their database; physical ones dropped only when inactive, unwanted and
 * not named by ignore_slots. A logical slot is never dropped: its consumer's position would be
 * lost with it (Patroni drops those it does not know; docs/patroni-differences.md). Races with
 * another session are answered by their SQLSTATE, not by failing the sync.
 */
import type pg from 'pg';
import { ignored, type SlotPlan } from '../../cluster/replication-slots.ts';

interface SlotRow {
  slot_name: string;
  slot_type: string;
  active: boolean;
  database: string | null;
  plugin: string | null;
}

/**
 * `connect(database)`: a session in that database, for creating a logical slot there. Resolves
 * with the unwanted physical slots left because they are in use (a standby still streams through
 * one): a later sync drops them.
 */
export async function syncSlots(
  pool: pg.Pool,
  plan: SlotPlan,
  connect: (database: string) => Promise<pg.Client>,
): Promise<string[]> {
  const existing = await pool.query<SlotRow>(
    'SELECT slot_name, slot_type, active, database, plugin FROM pg_catalog.pg_replication_slots WHERE NOT temporary',
  );
  const have = new Set(existing.rows.map((r) => r.slot_name));
  for (const name of plan.physical) {
    if (have.has(name)) continue;
    // Reserve WAL now: the standby may be cloned from an older position than its first connect.
    await pool
      .query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [name])
      .catch(ignoreCodes('42710'));
  }
  for (const slot of plan.logical) {
    if (have.has(slot.name)) continue;
    const client = await connect(slot.database);
    try {
      await client
        .query('SELECT pg_catalog.pg_create_logical_replication_slot($1, $2)', [slot.name, slot.plugin])
        .catch(ignoreCodes('42710'));
    } finally {
      await client.end().catch(() => {});
    }
  }
  const wanted = new Set(plan.physical);
  const inUse: string[] = [];
  for (const row of existing.rows) {
    if (row.slot_type !== 'physical' || wanted.has(row.slot_name)) continue;
    const slot = { name: row.slot_name, type: row.slot_type, database: row.database, plugin: row.plugin };
    if (ignored(slot, plan.ignore)) continue;
    if (row.active) {
      inUse.push(row.slot_name);
      continue;
    }
    // 55006: became active meanwhile (left for the next sync); 42704: someone else dropped it.
    const busy = await pool.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [row.slot_name]).then(
      () => false,
      (err: unknown) => {
        ignoreCodes('55006', '42704')(err);
        return (err as { code?: string }).code === '55006';
      },
    );
    if (busy) inUse.push(row.slot_name);
  }
  return inUse;
}

function ignoreCodes(...codes: string[]) {
  return (err: unknown) => {
    if (!codes.includes((err as { code?: string }).code ?? '')) throw err;
  };
}
