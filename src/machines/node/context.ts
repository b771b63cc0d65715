/** The node machine's context when it starts: nothing known yet but its name, tags and settings. */
import { emptyClusterView } from '../../cluster/view.ts';
import type { NodeContext, NodeInput } from './types.ts';

export function initialContext(input: NodeInput): NodeContext {
  return {
    name: input.name,
    tags: input.tags,
    settings: input.settings,
    view: emptyClusterView,
    lifecycle: { dcsSeen: false, replicaStartCallback: 'on_start' },
    dataDir: null,
    pg: null,
    pgState: 'stopped',
    role: 'uninitialized',
    isLeader: false,
    bootstrapLeaseAgeMs: null,
    wasPrimary: false,
    following: null,
    message: 'starting',
    election: { verdict: null, failsafeActive: false, fenceTargets: [] },
    fatal: null,
    lastLsn: null,
    restart: { timeoutSeconds: null, requestId: null, scheduled: null },
    reinitialize: { queued: false, requestId: null },
  };
}
