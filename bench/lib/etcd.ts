/** Leader key poller: reads /service/<scope>/leader straight from etcd's JSON gateway. */
import { now, sleep } from './time.ts';

export const LEADER_POLL_MS = 50;

export interface LeaderChange {
  at: number;
  value: string | null;
}

/** The leader key's value; null: no key; undefined: etcd did not answer. */
export async function readLeaderKey(endpoint: string, scope: string): Promise<string | null | undefined> {
  try {
    const res = await fetch(`${endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(`/service/${scope}/leader`).toString('base64') }),
      signal: AbortSignal.timeout(1000),
    });
    const doc = (await res.json()) as { kvs?: Array<{ value?: string }> };
    const kv = doc.kvs?.[0];
    return kv ? Buffer.from(kv.value ?? '', 'base64').toString() : null;
  } catch {
    return undefined; // etcd did not answer: no observation
  }
}

/** Records every change of the leader key (polled every LEADER_POLL_MS) until stopped. */
export function pollLeaderKey(
  endpoint: string,
  scope: string,
): { changes: LeaderChange[]; stop(): Promise<void> } {
  const changes: LeaderChange[] = [];
  let stopping = false;
  const run = async () => {
    while (!stopping) {
      const value = await readLeaderKey(endpoint, scope);
      const at = now();
      if (value !== undefined && (changes.length === 0 || changes.at(-1)!.value !== value)) {
        changes.push({ at, value });
      }
      await sleep(LEADER_POLL_MS);
    }
  };
  const done = run();
  return {
    changes,
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}
