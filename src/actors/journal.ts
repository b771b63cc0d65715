/**
 * The decision journal: every event delivered to a machine and every state it moved to, with
 * the time, so a run can be read back, replayed offline and drawn. Kept in a ring in memory
 * (for the REST API and tests) and, when a path is given, appended to a file as msgpackr
 * frames (length-prefixed records).
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import type { InspectionEvent } from 'xstate';
import { type Clock, systemClock } from './clock.ts';

export interface JournalEntry {
  /** ms since epoch (actor clock). */
  t: number;
  /** Which actor: the machine id path, e.g. `node` or `node.election`. */
  actor: string;
  kind: 'event' | 'state';
  /** Event type, or the state value as text. */
  what: string;
  /** The event object (events only). */
  event?: unknown;
}

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false });

export class Journal {
  private readonly ring: JournalEntry[] = [];
  private readonly out: WriteStream | null;
  private lastState = new Map<string, string>();

  constructor(private readonly opts: { path?: string; capacity?: number; clock?: Clock } = {}) {
    this.out = opts.path ? createWriteStream(opts.path, { flags: 'a' }) : null;
  }

  inspect(ev: InspectionEvent): void {
    const clock = this.opts.clock ?? systemClock;
    const actor = actorName(ev.actorRef);
    if (ev.type === '@xstate.event') {
      const type = ev.event.type;
      if (type.startsWith('xstate.')) return;
      this.add({ t: clock.now(), actor, kind: 'event', what: type, event: ev.event });
    } else if (ev.type === '@xstate.snapshot') {
      const value = (ev.snapshot as { value?: unknown }).value;
      if (value === undefined) return;
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (this.lastState.get(actor) === text) return;
      this.lastState.set(actor, text);
      this.add({ t: clock.now(), actor, kind: 'state', what: text });
    }
  }

  private add(entry: JournalEntry): void {
    this.ring.push(entry);
    if (this.ring.length > (this.opts.capacity ?? 2000)) this.ring.shift();
    if (this.out) {
      const body = packr.pack(entry);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      this.out.write(Buffer.concat([len, body]));
    }
  }

  entries(): readonly JournalEntry[] {
    return this.ring;
  }

  async close(): Promise<void> {
    const out = this.out;
    if (out) await new Promise<void>((resolve) => out.end(resolve));
  }
}

function actorName(ref: unknown): string {
  const r = ref as { id?: string; _parent?: unknown };
  const parts: string[] = [];
  let cur: { id?: string; _parent?: unknown } | undefined = r;
  while (cur) {
    parts.unshift(cur.id || 'root');
    cur = cur._parent as typeof cur;
  }
  return parts.join('.');
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
