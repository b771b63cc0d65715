/**
 * The walsenders of a simulated server, kept as PostgreSQL keeps them, so that its
 * pg_stat_replication tells an agent what a real one tells — including where it is wrong:
 *
 * - A standby that (re)connects is in `catchup` until it has received everything once; only a
 *   `streaming` one may be a synchronous standby. A ghost may get there too: its walsender
 *   judges by what it sent into the socket, not by what the standby confirmed.
 * - A connection that breaks where this server cannot see it (a cut cable, or a firewall on this
 *   host answering the standby's packets with resets) leaves a **ghost**: the walsender lives on
 *   with the standby's last confirmed position until `wal_sender_timeout`, or until the path
 *   works again long enough for a retransmission to draw a reset (TCP backs off: seconds). A
 *   ghost keeps its replication slot active, so the standby's reconnections are refused
 *   ("replication slot is active for PID"), and, named in synchronous_standby_names, it stays
 *   the synchronous standby: commits wait for a position that never moves.
 *
 * - A clean stop of the primary waits for every walsender to see its standby confirm the
 *   shutdown checkpoint: a ghost holds it until reaped (postgres.ts, `stop`).
 *
 * Seen on real processes (bench/chaos.ts, a leader refusing connections for 15 s): the leader's
 * pg_stat_replication showed such a ghost as `streaming`/`sync` after the heal, and the agent
 * named its standby in /sync although it lacked writes acknowledged a moment before.
 */

export interface WalSenderTiming {
  /** wal_sender_timeout: a walsender that hears nothing for this long ends (PostgreSQL: 60 s). */
  walSenderTimeoutMs: number;
  /** How long a ghost outlives the healing of its path (TCP retransmission backoff). */
  ghostLingerMs: number;
  /**
   * How much WAL a ghost can still "send" into its socket (the kernel's send buffer and the
   * standby's last receive window): a ghost in `catchup` this close to the end of WAL reaches
   * `streaming`, as its walsender judges by what it sent, not by what was confirmed.
   */
  ghostSendWindowBytes: number;
}

export const defaultWalSenderTiming: WalSenderTiming = Object.freeze({
  walSenderTimeoutMs: 60_000,
  ghostLingerMs: 3_000,
  ghostSendWindowBytes: 4 * 1024 * 1024,
});

export interface WalSenderEntry {
  /** The walsender's slot in shared memory: a new one takes the lowest free slot. */
  index: number;
  /** The standby's instance name and the connection (world-wide connect sequence). */
  standby: string;
  conn: number;
  applicationName: string;
  client: string;
  slot: string | null;
  /** The last positions the standby confirmed, and when. */
  flush: number;
  replay: number;
  lastReplyAt: number;
  /** Has received everything this server had, once (`streaming`; `catchup` before). */
  caughtUp: boolean;
  /** The standby is gone and this server has not noticed (null: a live connection). */
  ghostSince: number | null;
  /** A ghost whose path back works again: since when (null: still cut). */
  pathBackSince: number | null;
}

/** What the server can learn of one connection on a replication tick. */
export interface ConnectionProbe {
  /** The standby still streams on this very connection. */
  live: boolean;
  /** Its confirmed positions (meaningful when live). */
  flush: number;
  replay: number;
  /** Packets from the standby reach this server (no cut, no refusal here). */
  reachable: boolean;
}

export class WalSenderTable {
  private entries: WalSenderEntry[] = [];

  constructor(private readonly timing: WalSenderTiming) {}

  /**
   * In walsender-slot order: PostgreSQL breaks ties between equal priorities (one standby's ghost
   * and its new connection, or `*`) by slot, and a new walsender takes the lowest free one, so a
   * reconnection may rank before a ghost that came earlier.
   */
  all(): readonly WalSenderEntry[] {
    return this.entries;
  }

  /** A walsender (live or ghost) holds replication slot `slot`. */
  slotActive(slot: string): boolean {
    return this.entries.some((e) => e.slot === slot);
  }

  has(conn: number): boolean {
    return this.entries.some((e) => e.conn === conn);
  }

  connect(
    e: Pick<WalSenderEntry, 'standby' | 'conn' | 'applicationName' | 'client' | 'slot' | 'flush'>,
    now: number,
  ): void {
    let index = 0;
    while (this.entries.some((x) => x.index === index)) index++;
    const at = this.entries.findIndex((x) => x.index > index);
    this.entries.splice(at < 0 ? this.entries.length : at, 0, {
      ...e,
      index,
      replay: e.flush,
      lastReplyAt: now,
      caughtUp: false,
      ghostSince: null,
      pathBackSince: null,
    });
  }

  /**
   * One replication tick: live connections report their positions; a connection that ended is
   * dropped at once when its end reached us, or kept as a ghost until wal_sender_timeout or until
   * its path has worked again for ghostLingerMs.
   */
  reconcile(now: number, serverLsn: number, probe: (e: WalSenderEntry) => ConnectionProbe): void {
    this.entries = this.entries.filter((e) => {
      const p = probe(e);
      if (p.live && e.ghostSince === null) {
        e.flush = p.flush;
        e.replay = p.replay;
        e.lastReplyAt = now;
        if (p.flush >= serverLsn) e.caughtUp = true;
        return true;
      }
      if (e.ghostSince === null) {
        if (p.reachable) return false;
        e.ghostSince = now;
        return true;
      }
      if (!e.caughtUp && serverLsn - e.flush <= this.timing.ghostSendWindowBytes) e.caughtUp = true;
      if (now - e.lastReplyAt >= this.timing.walSenderTimeoutMs) return false;
      if (!p.reachable) {
        e.pathBackSince = null;
        return true;
      }
      e.pathBackSince ??= now;
      return now - e.pathBackSince < this.timing.ghostLingerMs;
    });
  }
}
