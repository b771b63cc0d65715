/**
 * The Node.js flags an agent runs with, wherever this project starts one: the systemd unit
 * (contrib/pgwarden.service, `NODE_OPTIONS`; a unit test keeps the two equal), the demo and the
 * tests' and benchmarks' local clusters.
 *
 * `--max-semi-space-size=2` (MB): V8's young generation may grow to three times its semi-space
 * (16 MB by default) under a burst of allocation, and keeps what it grew. A load of health checks
 * took an agent's RSS from 85 to 104 MB; capped, to 91 MB, at the same or higher throughput
 * (scavenges of a small young generation are cheap; measured with wrk -c16 on /primary). Not in
 * the bin's shebang: `pgwarden sim` allocates far more and ran 9 % slower with it.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
