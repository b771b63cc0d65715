/** PostgresStatus objects for REST and report tests: a running primary unless told otherwise. */
import type { PostgresStatus } from '../../src/actors/postgres.ts';

export const MB = 1024 * 1024;

export function pgStatus(over: Partial<PostgresStatus> = {}): PostgresStatus {
  return {
    running: true,
    inRecovery: false,
    timeline: 2,
    currentLsn: 100 * MB,
    receivedLsn: null,
    replayedLsn: null,
    replayedTimestamp: null,
    replayPaused: false,
    replicationState: null,
    postmasterStartTime: '2026-11-25 19:57:57.123456+00:00',
    serverVersion: 150004,
    systemIdentifier: '7123456789012345678',
    replication: [],
    pendingRestart: false,
    synchronousStandbyNames: '',
    ...over,
  };
}
