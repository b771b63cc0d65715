/**
 * Client workloads of the seeded runner besides the one that writes through `/leader`
 * (SimulatedCluster.write): clients that write to whatever node accepts writes, as a libpq
 * multi-host connection string with target_session_attrs=read-write does, or an application
 * that keeps the address it last reached. They find a primary the DCS no longer names, which
 * a client of `/leader` never does.
 */

import type { SimulatedCluster } from './cluster/index.ts';
import type { Commit } from './simulated-postgres/index.ts';

/**
 * `leader`: through the node `/leader` names (c.write). `first-writable`: tries the nodes in a
 * fixed order (node1, node2, ...) and writes to the first that accepts writes. `sticky`: keeps
 * the node it reached last while that node accepts writes, else tries the others in order.
 */
export type ClientKind = 'leader' | 'first-writable' | 'sticky';

/** What the client was told: acknowledged, failed (nothing written), unknown (written, no answer). */
export type ClientOutcome = 'acknowledged' | 'failed' | 'unknown';

export interface ClientWrite {
  client: ClientKind;
  /** The node it wrote to (null: none accepted writes). */
  node: string | null;
  sentAt: number;
  commit: Commit | null;
}

export function outcomeOf(w: ClientWrite): ClientOutcome {
  const state = w.commit?.state ?? 'rejected';
  if (state === 'acknowledged') return 'acknowledged';
  return state === 'rejected' ? 'failed' : 'unknown';
}

/** A client that writes to any node that accepts writes (see ClientKind). */
export class AnyNodeClient {
  private last: string | null = null;

  constructor(
    readonly kind: 'first-writable' | 'sticky',
    private readonly names: readonly string[],
  ) {}

  write(c: SimulatedCluster, bytes = 100): ClientWrite {
    const last = this.kind === 'sticky' ? this.last : null;
    const order = last === null ? this.names : [last, ...this.names.filter((n) => n !== last)];
    const target = order.find((n) => c.acceptsClientWrites(n)) ?? null;
    if (target === null) return { client: this.kind, node: null, sentAt: c.now(), commit: null };
    this.last = target;
    return { client: this.kind, node: target, sentAt: c.now(), commit: c.writeTo(target, bytes) };
  }
}

/** Per client kind: how its writes ended. */
export function clientTally(writes: readonly ClientWrite[]): Record<string, Record<ClientOutcome, number>> {
  const out: Record<string, Record<ClientOutcome, number>> = {};
  for (const w of writes) {
    const t = out[w.client] ?? { acknowledged: 0, failed: 0, unknown: 0 };
    out[w.client] = t;
    t[outcomeOf(w)]++;
  }
  return out;
}
