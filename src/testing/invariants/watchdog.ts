/**
 * The watchdog invariants (src/cluster/watchdog.ts; the simulated device src/testing/cluster/watchdog.ts):
 * a watchdog resets only a host whose agent could not act, and no server is left writable with
 * its watchdog armed beside a new primary.
 */
import type { Invariant } from './types.ts';

/**
 * (15) A watchdog never resets a host whose agent was alive and running (not frozen, not just
 * started) all along since its last keepalive: such an agent demotes itself, and closes the
 * watchdog, while there is still time (the election trusts its lock no longer than the
 * watchdog's timeout less min(loop_wait, 5 s)). A reset of a healthy leader — in an etcd outage, say —
 * is a leadership change and a crash nobody asked for. A reset during a demotion's stop that
 * takes longer than that loop_wait is the watchdog doing its job (WatchdogFiring.agentCouldAct).
 */
export const noWatchdogResetOfLiveAgent: Invariant = {
  name: 'no-watchdog-reset-of-live-agent',
  check({ cluster }) {
    const f = cluster.watchdogs?.firings.find((x) => x.agentCouldAct);
    if (!f) return null;
    return `the watchdog reset ${f.node} at ${f.at} ms (last keepalive ${f.lastKeepaliveAt} ms) while its agent was alive and running all along: it should have demoted itself and closed it first`;
  },
};

/**
 * (16) No server writable with its watchdog armed when another node is promoted: the other
 * node took the lock after this one's lease ran out, by when its agent (if it could act) had
 * demoted and closed the watchdog, or the watchdog (if it could not) had reset the host — it
 * fires no later than the lease runs out. A server still writable and armed means the watchdog's
 * timeout or its keepalives do not bound the lease as they must.
 */
export const noArmedOrphanBesideNewPrimary: Invariant = {
  name: 'no-armed-orphan-beside-new-primary',
  check({ cluster }) {
    const p = cluster.watchdogs?.armedBeside[0];
    if (!p) return null;
    return `${p.promoted} was promoted at ${p.at} ms while ${p.others.join(', ')} still accepted writes with its watchdog armed`;
  },
};
