/**
 * The gossip wire format: what one agent tells the others a few times a second over its
 * WebSocket (msgpackr, plain maps, versioned), and how a frame is checked on arrival. A frame
 * says what GET /patroni would say about the node (built from the same NodeReport), so the
 * leader race judges a gossiped peer exactly as one it asked over REST.
 *
 * Kinds:
 *  - `status`: the sender's state; `ask` asks the receiver for its own status frame at once
 *    (the race's probe); `answers` names the ask a status frame replies to.
 *  - `ack`: the receiver got status frame `seq` (also how a sender knows its link is alive).
 *  - `failsafe`: a leader asks the receiver to confirm it (failsafe mode; what POST /failsafe
 *    asks, from the member the link belongs to); `failsafe-answer` says what POST /failsafe would
 *    have answered (200 `Accepted`, 500 `Running as a leader`, 502 with failsafe mode off).
 *  - `lease`: the leader's short-lease frame (fast failover, src/cluster/short-lease.ts): its term
 *    (the etcd lease its key rides on), the term's members and the lease; acked with `ack` by a
 *    member that has not given the term up.
 *  - `gave-up`: the sender gave a leader's term up for good (heard nothing of it for W).
 */

import { pack, unpack } from 'msgpackr';
import type { PeerStatus } from '../cluster/eligibility.ts';
import { type NodeReport, reportedRole } from '../cluster/report.ts';
import { nofailoverOf } from '../cluster/tags.ts';

export const GOSSIP_VERSION = 1;

export interface StatusFrame {
  v: typeof GOSSIP_VERSION;
  k: 'status';
  scope: string;
  from: string;
  seq: number;
  /** The sender's steady clock (ms) when it sent the frame. */
  sentAt: number;
  /** The sender's wall clock (epoch ms), for people reading it; never used to decide. */
  wall: number;
  /** Patroni's PostgreSQL state string (running, starting, stopped, ...). */
  state: string;
  /** The role GET /patroni reports. */
  role: string;
  running: boolean;
  inRecovery: boolean;
  timeline: number | null;
  /** Where the WAL ends as GET /patroni's xlog says it: current (primary), received/replayed (replica). */
  current: number | null;
  received: number | null;
  replayed: number | null;
  /** Who holds the lock in the sender's latest view (null: nobody, or no view yet). */
  leader: string | null;
  /** The sender's election says it holds the lock. */
  isLeader: boolean;
  nofailover: boolean;
  watchdogFailed: boolean;
  /** A replica's WAL receiver is streaming (GET /patroni's replication_state); absent from older senders. */
  streaming?: boolean;
  /** Asks the receiver for a status frame at once (the leader race's probe). */
  ask?: number;
  /** The `ask` this frame answers. */
  answers?: number;
}

export interface AckFrame {
  v: typeof GOSSIP_VERSION;
  k: 'ack';
  scope: string;
  from: string;
  /** The status frame acknowledged. */
  seq: number;
}

export interface FailsafeFrame {
  v: typeof GOSSIP_VERSION;
  k: 'failsafe';
  scope: string;
  from: string;
  seq: number;
  conn_url: string;
  api_url: string;
}

export interface FailsafeAnswerFrame {
  v: typeof GOSSIP_VERSION;
  k: 'failsafe-answer';
  scope: string;
  from: string;
  seq: number;
  /** The `failsafe` frame answered. */
  answers: number;
  status: number;
  text: string;
}

export interface LeaseFrame {
  v: typeof GOSSIP_VERSION;
  k: 'lease';
  scope: string;
  from: string;
  seq: number;
  /** The term: the etcd lease the sender's leader key rides on. */
  lease: string;
  /** The term's members (the leader among them): the majority a renewal needs is of these. */
  members: string[];
  /** The short lease (ms) the sender holds per renewal. */
  leaseMs: number;
  /** The timeout (ms) of the watchdog armed on the sender's host, null: none armed. */
  watchdogMs: number | null;
}

export interface GaveUpFrame {
  v: typeof GOSSIP_VERSION;
  k: 'gave-up';
  scope: string;
  from: string;
  seq: number;
  /** The term given up: its leader and etcd lease. */
  leader: string;
  lease: string;
}

export type GossipFrame =
  | StatusFrame
  | AckFrame
  | FailsafeFrame
  | FailsafeAnswerFrame
  | LeaseFrame
  | GaveUpFrame;

/** Why a frame was dropped (the label of pgwarden_gossip_frames_dropped_total). */
export type DropReason = 'undecodable' | 'version' | 'malformed' | 'scope' | 'sender';

export type Decoded = { ok: true; frame: GossipFrame } | { ok: false; reason: DropReason };

export function encodeFrame(frame: GossipFrame): Uint8Array {
  return pack(frame);
}

/**
 * A frame as it arrived, checked: it must decode, speak this version, have every field of its
 * kind with the right type, belong to `scope`, and come from `sender` (the member the link was
 * opened by or to).
 */
export function decodeFrame(data: Uint8Array, scope: string, sender: string): Decoded {
  let value: unknown;
  try {
    value = unpack(data);
  } catch {
    return { ok: false, reason: 'undecodable' };
  }
  if (!isRecord(value)) return { ok: false, reason: 'malformed' };
  if (value['v'] !== GOSSIP_VERSION) return { ok: false, reason: 'version' };
  if (!wellFormed(value)) return { ok: false, reason: 'malformed' };
  if (value.scope !== scope) return { ok: false, reason: 'scope' };
  if (value.from !== sender) return { ok: false, reason: 'sender' };
  return { ok: true, frame: value };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** More members than any cluster has: a frame naming more is not trusted. */
const MAX_TERM_MEMBERS = 64;
const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPosition = (v: unknown) => v === null || isCount(v);
const isTime = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isBool = (v: unknown) => typeof v === 'boolean';
const isText = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 256;

function wellFormed(f: Record<string, unknown>): f is GossipFrame & Record<string, unknown> {
  if (!isText(f['scope']) || !isText(f['from']) || !isCount(f['seq'])) return false;
  if (f['k'] === 'ack') return true;
  if (f['k'] === 'failsafe') return typeof f['conn_url'] === 'string' && typeof f['api_url'] === 'string';
  if (f['k'] === 'failsafe-answer')
    return isCount(f['answers']) && isCount(f['status']) && typeof f['text'] === 'string';
  if (f['k'] === 'lease')
    return (
      isText(f['lease']) &&
      Array.isArray(f['members']) &&
      f['members'].length <= MAX_TERM_MEMBERS &&
      f['members'].every(isText) &&
      isCount(f['leaseMs']) &&
      (f['leaseMs'] as number) > 0 &&
      isPosition(f['watchdogMs'])
    );
  if (f['k'] === 'gave-up') return isText(f['leader']) && isText(f['lease']);
  if (f['k'] !== 'status') return false;
  return (
    isTime(f['sentAt']) &&
    isTime(f['wall']) &&
    typeof f['state'] === 'string' &&
    typeof f['role'] === 'string' &&
    isBool(f['running']) &&
    isBool(f['inRecovery']) &&
    isPosition(f['timeline']) &&
    isPosition(f['current']) &&
    isPosition(f['received']) &&
    isPosition(f['replayed']) &&
    (f['leader'] === null || isText(f['leader'])) &&
    isBool(f['isLeader']) &&
    isBool(f['nofailover']) &&
    isBool(f['watchdogFailed']) &&
    (f['streaming'] === undefined || isBool(f['streaming'])) &&
    (f['ask'] === undefined || isCount(f['ask'])) &&
    (f['answers'] === undefined || isCount(f['answers']))
  );
}

/** What a status frame is stamped with besides the report. */
export interface FrameStamp {
  seq: number;
  sentAt: number;
  wall: number;
  ask?: number;
  answers?: number;
}

/** This node's status frame: the fields of GET /patroni the race reads, from the same report. */
export function statusFrame(r: NodeReport, stamp: FrameStamp): StatusFrame {
  const pg = r.pg;
  const running = pg?.running === true;
  const frame: StatusFrame = {
    v: GOSSIP_VERSION,
    k: 'status',
    scope: r.scope,
    from: r.name,
    seq: stamp.seq,
    sentAt: stamp.sentAt,
    wall: stamp.wall,
    state: r.state,
    role: reportedRole(r),
    running,
    inRecovery: running ? pg.inRecovery : true,
    // GET /patroni leaves a timeline of 0 (not yet known) out.
    timeline: running ? pg.timeline || null : null,
    current: running && !pg.inRecovery ? (pg.currentLsn ?? 0) : null,
    received: running && pg.inRecovery ? (pg.receivedLsn ?? pg.replayedLsn ?? 0) : null,
    replayed: running && pg.inRecovery ? (pg.replayedLsn ?? 0) : null,
    leader: r.view?.leader?.name ?? null,
    isLeader: r.isLeader,
    nofailover: nofailoverOf(r.tags),
    // As GET /patroni says it.
    watchdogFailed: r.watchdogFailed === true,
    streaming: running && pg.inRecovery && pg.replicationState === 'streaming',
  };
  if (stamp.ask !== undefined) frame.ask = stamp.ask;
  if (stamp.answers !== undefined) frame.answers = stamp.answers;
  return frame;
}

/**
 * What the race reads from a peer's status frame: the same PeerStatus that parsePeerDocument
 * reads from its GET /patroni (a node whose PostgreSQL is not running has no WAL position, and
 * is judged as a member that did not answer usefully, as over REST).
 */
export function peerStatusFromFrame(f: StatusFrame): PeerStatus | null {
  if (!f.running) return null;
  const walPositionOf = f.inRecovery ? Math.max(f.received ?? 0, f.replayed ?? 0) : f.current;
  return {
    name: f.from,
    reachable: true,
    inRecovery: f.inRecovery,
    walPosition: walPositionOf,
    timeline: f.timeline,
    nofailover: f.nofailover,
    watchdogFailed: f.watchdogFailed,
    streaming: f.streaming === true,
  };
}
