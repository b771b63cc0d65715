/**
 * The leader's physical replication slots, one per other member: created with WAL reserved at
 * once (a standby may be cloned from an older position than its first connect), dropped only
 * when inactive and unwanted. Logical slots are never touched; races with another session are
 * answered by their SQLSTATE, not by failing the sync.
 */
import type pg from 'pg';

/** Never touches logical slots; drops only inactive physical ones (an active one is in use). */
export async function syncSlots(pool: pg.Pool, slotNames: string[]): Promise<void> {
  const wanted = new Set(slotNames);
  const existing = await pool.query<{ slot_name: string; active: boolean }>(
    `SELECT slot_name, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical'`,
  );
  const have = new Set(existing.rows.map((r) => r.slot_name));
  for (const name of wanted) {
    if (have.has(name)) continue;
    // Reserve WAL now: the standby may be cloned from an older position than its first connect.
    await pool
      .query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [name])
      .catch(ignoreCodes('42710'));
  }
  for (const row of existing.rows) {
    if (wanted.has(row.slot_name) || row.active) continue;
    // 55006: became active meanwhile; 42704: someone else dropped it.
    await pool
      .query('SELECT pg_catalog.pg_drop_replication_slot($1)', [row.slot_name])
      .catch(ignoreCodes('55006', '42704'));
  }
}

function ignoreCodes(...codes: string[]) {
  return (err: unknown) => {
    if (!codes.includes((err as { code?: string }).code ?? '')) throw err;
  };
}
