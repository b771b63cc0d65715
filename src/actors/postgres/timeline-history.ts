/**
 * The server's timeline history, read from the newest `<timeline>.history` file in pg_wal: the
 * lines the agent writes to /history after a promotion, as Patroni does.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseLsn } from '../../cluster/lsn.ts';

/** Lines of timeline `tli`'s history file in `dataDir`: [timeline, switch LSN, reason]. */
export async function readTimelineHistory(
  dataDir: string,
  tli: number | null,
): Promise<Array<[number, number, string]>> {
  if (tli === null || tli <= 1) return [];
  const file = path.join(dataDir, 'pg_wal', `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Array<[number, number, string]> = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(line);
    if (m) out.push([Number(m[1]), parseLsn(m[2]!), m[3]!.trim()]);
  }
  return out;
}
