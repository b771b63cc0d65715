/**
 * The decision journal: every event delivered to a machine — XState's own too: the results and
 * errors of invoked actors and the firing of timers — and every state it moved to, with the time,
 * so a run can be read back, replayed offline and drawn. A header entry says which pgwarden and
 * which machine definitions wrote what follows. Kept in a ring in memory
 * (for the REST API and tests) and, when a path is given, appended to a file as msgpackr
 * frames (length-prefixed records).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { type Clock, systemClock } from './clock.ts';
import { type GuardOutcome, takeGuardOutcomes } from './guard-trace.ts';

export interface JournalEntry {
  /** ms since epoch (actor clock). */
  t: number;
  /**
   * ms on the writer's steady clock (`Clock.monotonic`), events and states: what a replay checks
   * timers against, since the wall clock may step between a timer's arming and its firing.
   */
  m?: number;
  /** Which actor: the machine id path, e.g. `node` or `node.election`. */
  actor: string;
  kind: 'event' | 'state' | 'header';
  /** Event type, the state value as text, or the journal format (header). */
  what: string;
  /** The event as plain data (events; errors as { name, message }), or the header's facts. */
  event?: unknown;
  /**
   * States: the guards XState asked on the way to it, with their answers, in order (machines
   * given through `tracingGuards`; see guard-trace.ts).
   */
  guards?: GuardOutcome[];
}

/** What a header entry carries: enough to refuse replaying a journal against other machines. */
export interface JournalHeader {
  version: string;
  /** sha256 of the machine definitions (`definitionsHash`). */
  machines: string;
  node: string;
  settings: unknown;
}

export const JOURNAL_FORMAT = 'pgwarden journal 2';

/** A fingerprint of machine definitions: any change to a state, transition, guard or delay name changes it. */
export function definitionsHash(machines: readonly AnyStateMachine[]): string {
  const h = createHash('sha256');
  for (const m of machines) h.update(JSON.stringify(m.definition));
  return h.digest('hex');
}

/**
 * An event as plain data that msgpackr can always write, and a replay can send again: an Error
 * becomes { name, message }, a bigint its decimal text, a Date stays a Date (msgpackr's
 * timestamp), functions and actor references are left out; what cannot be copied (a cycle) is
 * recorded as its type alone.
 */
export function plainEvent(event: { type: string }): unknown {
  try {
    return plainCopy(event, 0);
  } catch {
    return { type: event.type, unrecorded: true };
  }
}

/** Deeper than any event pgwarden sends: a cycle. */
const MAX_DEPTH = 64;

function plainCopy(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new Error('too deep');
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    return value;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => plainCopy(v, depth + 1) ?? null);
  if (isActorRef(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const copy = plainCopy(v, depth + 1);
    if (copy !== undefined) out[k] = copy;
  }
  return out;
}

/** An XState actor reference (an event may carry `self`): not data. */
function isActorRef(value: object): boolean {
  return typeof (value as { send?: unknown }).send === 'function';
}

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false });

export interface JournalOptions {
  /** Append to this file (none: memory only). */
  path?: string;
  /** Entries kept in memory (default 2000). */
  capacity?: number;
  clock?: Clock;
  /**
   * Bytes on disk, all files together (default 64 MiB): the file is rotated at a quarter of it
   * (`path` → `path.1` → `path.2` → `path.3`, the oldest dropped), each new file starting with
   * the header again.
   */
  maxBytes?: number;
  /**
   * A write that failed (disk full, the file removed under us): the journal goes on in memory
   * only, and says so once here. The agent never stops for its journal.
   */
  onError?: (message: string) => void;
}

/** How many files a rotated journal keeps: `path` and `path.1` … `path.3`. */
export const JOURNAL_FILES = 4;
export const DEFAULT_JOURNAL_BYTES = 64 * 1024 * 1024;

export class Journal {
  private readonly ring: JournalEntry[] = [];
  /** The open file (synchronous appends: a record is on its way to disk when add() returns). */
  private fd: number | null;
  private written: number;
  private lastHeader: JournalEntry | null = null;
  /** Each running actor's last state entry (finished actors are dropped). */
  private lastState = new Map<string, JournalEntry>();
  private readonly names = new ActorNames();
  private readonly listeners = new Set<(entry: JournalEntry) => void>();

  constructor(private readonly opts: JournalOptions = {}) {
    this.fd = opts.path ? openSync(opts.path, 'a') : null;
    this.written = this.fd === null ? 0 : fstatSync(this.fd).size;
  }

  inspect(ev: InspectionEvent): void {
    const clock = this.opts.clock ?? systemClock;
    const actor = this.names.of(ev);
    if (ev.type === '@xstate.event') {
      // Machines only: the promise actors they invoke report through their parent's done/error events.
      if (!isMachine(ev.actorRef)) return;
      const type = ev.event.type;
      // A (re)started actor's first state is always written, even if its last life ended there.
      if (type === 'xstate.init') this.lastState.delete(actor);
      this.add({
        ...stamp(clock),
        actor,
        kind: 'event',
        what: type,
        event: plainEvent(ev.event),
      });
    } else if (ev.type === '@xstate.snapshot') {
      const { value, status } = ev.snapshot as { value?: unknown; status?: string };
      if (value === undefined) return;
      const guards = takeGuardOutcomes((ev.actorRef as unknown as { logic: { id: string } }).logic.id);
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (this.lastState.get(actor)?.what !== text) {
        const entry: JournalEntry = { ...stamp(clock), actor, kind: 'state', what: text };
        if (guards) entry.guards = guards;
        this.lastState.set(actor, entry);
        this.add(entry);
      }
      // A finished actor is forgotten (one per REST switchover request: the maps must not grow).
      if (status === 'done' || status === 'error' || status === 'stopped') {
        this.lastState.delete(actor);
        this.names.forget(ev);
      }
    }
  }

  /**
   * The header: written first (an agent's start: every actor begins anew), and again at the top
   * of every new file (the same entry, same time: a continuation).
   */
  header(header: JournalHeader): void {
    this.lastState.clear();
    this.lastHeader = {
      t: (this.opts.clock ?? systemClock).now(),
      actor: header.node,
      kind: 'header',
      what: JOURNAL_FORMAT,
      event: header,
    };
    this.add(this.lastHeader);
  }

  /** Every entry from now on, as it is added (the visualizer's live stream); returns the unsubscribe. */
  subscribe(listener: (entry: JournalEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private add(entry: JournalEntry): void {
    this.ring.push(entry);
    if (this.ring.length > (this.opts.capacity ?? 2000)) this.ring.shift();
    if (this.fd !== null) this.write(entry);
    // A listener (the visualizer) that throws must not reach the machine being inspected.
    for (const l of this.listeners) {
      try {
        l(entry);
      } catch (err) {
        this.opts.onError?.(`journal: a listener failed (${(err as Error).message})`);
      }
    }
  }

  private write(entry: JournalEntry): void {
    try {
      const record = frame(entry);
      const perFile = Math.floor((this.opts.maxBytes ?? DEFAULT_JOURNAL_BYTES) / JOURNAL_FILES);
      if (this.written > 0 && this.written + record.length > perFile) this.rotate();
      writeSync(this.fd!, record);
      this.written += record.length;
    } catch (err) {
      if (this.fd !== null) {
        try {
          closeSync(this.fd);
        } catch {
          // already gone
        }
      }
      this.fd = null;
      this.opts.onError?.(
        `journal: writing ${this.opts.path} failed (${(err as Error).message}); it goes on in memory only`,
      );
    }
  }

  /**
   * `path` → `path.1` → … → `path.3`, the oldest dropped. The new file starts with the header, so
   * that each file reads on its own.
   */
  private rotate(): void {
    const path = this.opts.path!;
    closeSync(this.fd!);
    for (let i = JOURNAL_FILES - 1; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`;
      if (existsSync(from)) renameSync(from, `${path}.${i}`);
    }
    this.fd = openSync(path, 'a');
    this.written = 0;
    if (this.lastHeader) this.write(this.lastHeader);
  }

  entries(): readonly JournalEntry[] {
    return this.ring;
  }

  /** The last state entry of every actor still running (however long ago it moved). */
  currentStates(): JournalEntry[] {
    return [...this.lastState.values()];
  }

  /** The header this journal began with (the ring may have dropped it). */
  headerEntry(): JournalEntry | null {
    return this.lastHeader;
  }

  async close(): Promise<void> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Actors named by their id path (`node`, `node.election`), from XState's public API only: the
 * root is the actor whose session is the inspection event's `rootId`; a child is found by walking
 * the machine snapshots' `children` down from the root (a child's first events come before its
 * parent's next snapshot is inspected, but after the parent's snapshot already holds it).
 */
class ActorNames {
  private readonly known = new WeakMap<object, string>();
  private readonly roots = new Map<string, AnyActorRef>();

  of(ev: InspectionEvent): string {
    const ref = ev.actorRef as AnyActorRef;
    const name = this.known.get(ref);
    if (name !== undefined) return name;
    if (ref.sessionId === ev.rootId) {
      this.roots.set(ev.rootId, ref);
      this.known.set(ref, ref.id);
      return ref.id;
    }
    const root = this.roots.get(ev.rootId);
    if (root) this.learn(root, this.known.get(root) ?? root.id);
    return this.known.get(ref) ?? `${root?.id ?? ev.rootId}.?${ref.id}`;
  }

  /**
   * The actor of `ev` has finished: a root without children left is never seen again (a root
   * with children still names them as they stop).
   */
  forget(ev: InspectionEvent): void {
    if (ev.actorRef.sessionId !== ev.rootId) return;
    const children = (ev as { snapshot?: { children?: object } }).snapshot?.children ?? {};
    if (Object.keys(children).length === 0) this.roots.delete(ev.rootId);
  }

  /** Names every actor under `parent` (called `name`) that the snapshots show. */
  private learn(parent: AnyActorRef, name: string): void {
    const children = childrenOf(parent);
    if (!children) return;
    for (const [id, child] of Object.entries(children)) {
      if (!child) continue;
      const childName = `${name}.${id}`;
      this.known.set(child, childName);
      this.learn(child, childName);
    }
  }
}

/** A machine's children as its snapshot shows them; none while it is still initializing. */
function childrenOf(actor: AnyActorRef): Record<string, AnyActorRef> | undefined {
  try {
    return (actor.getSnapshot() as { children?: Record<string, AnyActorRef> } | undefined)?.children;
  } catch {
    return undefined; // XState refuses reads during an actor's own initialization
  }
}

/** An entry's times: the wall clock, and the steady clock where the clock has one. */
function stamp(clock: Clock): { t: number; m?: number } {
  const t = clock.now();
  return clock.monotonic ? { t, m: clock.monotonic() } : { t };
}

/** One record: a 4-byte big-endian length, then the msgpackr body. */
function frame(entry: JournalEntry): Buffer {
  const body = packr.pack(entry);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** A state machine actor (XState's public `logic` is a machine: it has a root state node). */
function isMachine(ref: unknown): boolean {
  return (ref as { logic?: { root?: unknown } }).logic?.root !== undefined;
}

/** Every file of a rotated journal, oldest first (`path.3` … `path.1`, `path`), that exists. */
export function journalFiles(path: string): string[] {
  const out: string[] = [];
  for (let i = JOURNAL_FILES - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  if (existsSync(path)) out.push(path);
  return out;
}

/** Writes entries as a journal file (the simulator's journals, for `pgwarden replay`). */
export function writeJournal(path: string, entries: readonly JournalEntry[]): void {
  writeFileSync(path, Buffer.concat(entries.map(frame)));
}

/** Reads a journal file back (for `pgwarden replay` and tests). */
export function readJournal(path: string): JournalEntry[] {
  const buf = readFileSync(path);
  const out: JournalEntry[] = [];
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt32BE(off);
    if (off + 4 + len > buf.length) break; // torn final record after a crash
    out.push(unpackr.unpack(buf.subarray(off + 4, off + 4 + len)) as JournalEntry);
    off += 4 + len;
  }
  return out;
}
