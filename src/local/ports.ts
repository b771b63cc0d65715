/**
 * Free loopback ports for the local cluster, the tests and the benches, which pick a port now and
 * bind it seconds later (etcd, PostgreSQL and the agents start after every port is chosen).
 *
 * Why not port 0: the kernel hands it out from the ephemeral range, the same range every
 * outgoing connection takes its local port from. Between the pick and the bind, an agent's
 * connection to etcd or to a peer can take that port, and PostgreSQL's bind then fails with
 * EADDRINUSE (a connected socket blocks the address even with SO_REUSEADDR) — the agent retries
 * for ever and the cluster never becomes ready. A CI run failed that way. Ports below the
 * ephemeral range are never taken by an outgoing connection.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The kernel's default ephemeral range, when /proc cannot be read. */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32768, 60999];
/** Below this, ports belong to well-known services. */
const LOWEST = 10000;
const ATTEMPTS = 500;

/** ip_local_port_range, as two numbers. */
export function ephemeralRange(text?: string): readonly [number, number] {
  try {
    const raw = text ?? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const [lo, hi] = raw.trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi)
      return [lo, hi];
  } catch {
    // not Linux, or /proc not mounted: the default is as good a guess as any
  }
  return DEFAULT_EPHEMERAL;
}

/** The ports to pick from: below the ephemeral range, or above it if that leaves too few below. */
export function candidateRange(ephemeral: readonly [number, number]): readonly [number, number] {
  const [lo, hi] = ephemeral;
  if (lo - LOWEST >= 1000) return [LOWEST, lo - 1];
  if (65535 - hi >= 1000) return [hi + 1, 65535];
  return [LOWEST, 65535];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Never the same port twice in one process (two nodes of one cluster, etcd's two ports). */
const handedOut = new Set<number>();

/**
 * A loopback port outside the ephemeral range that nothing listens on now. Chosen at random so
 * that two processes picking at once (a bench beside the tests) rarely meet; the bind check
 * covers what is already listening.
 */
export async function freePort(): Promise<number> {
  const [lo, hi] = candidateRange(ephemeralRange());
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port between ${lo} and ${hi} after ${ATTEMPTS} tries`);
}

/** The preferred port if it is free (the demo's 5432, 8008, 2379), else any free one. */
export async function preferredPort(preferred: number | null): Promise<number> {
  if (preferred !== null && !handedOut.has(preferred) && (await bindable(preferred))) {
    handedOut.add(preferred);
    return preferred;
  }
  return freePort();
}
