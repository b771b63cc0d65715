/**
 * Is a member's node provably gone? Only "connection refused" on both its REST port and its
 * PostgreSQL port, twice in a row, counts: a refusal means the host answered and nothing
 * listens — the agent and the postmaster are both dead. A timeout proves nothing (it may be a
 * partition), so it never counts.
 */
import { connect } from 'node:net';
import { memberHostPort } from '../cluster/topology.ts';
import type { Member } from '../cluster/view.ts';

export type PortState = 'open' | 'refused' | 'unknown';

export function probePort(host: string, port: number, timeoutMs = 500): Promise<PortState> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (state: PortState) => {
      socket.destroy();
      resolve(state);
    };
    socket.setTimeout(timeoutMs, () => done('unknown'));
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'),
    );
  });
}

export interface NodeDownVerdict {
  down: boolean;
  detail: string;
}

export async function probeNodeDown(member: Member, rounds = 2, pauseMs = 200): Promise<NodeDownVerdict> {
  const pg = memberHostPort(member);
  let api: { host: string; port: number } | null = null;
  try {
    const u = new URL(member.data.api_url);
    api = {
      host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
    };
  } catch {
    api = null;
  }
  if (!pg || !api) return { down: false, detail: `${member.name} has no usable conn_url/api_url` };
  for (let round = 0; round < rounds; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, pauseMs));
    const [a, p] = await Promise.all([probePort(api.host, api.port), probePort(pg.host, pg.port)]);
    if (a !== 'refused' || p !== 'refused') {
      return { down: false, detail: `${member.name}: REST port ${a}, PostgreSQL port ${p}` };
    }
  }
  return { down: true, detail: `${member.name}: REST and PostgreSQL ports refuse connections` };
}
