/**
 * How the simulator lets the promises of one virtual-time step run before the next: the agents'
 * I/O resolves in microtasks and a few setImmediate hops (in-process REST requests), and a step
 * is only over once they have all run. Shared by the cluster's clock steps and a node's restarts.
 */

/** Let resolved promises run (every step is microtasks plus at most a queueMicrotask hop). */
export async function settle(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A setImmediate callback is waiting to run. */
export function immediateQueued(): boolean {
  return process.getActiveResourcesInfo().includes('Immediate');
}
