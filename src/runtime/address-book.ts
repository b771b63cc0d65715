/**
 * The address book kept in the data directory (src/cluster/orphans.ts, knownServersOf): written
 * whenever the election's book changes (after a view; again each loop should a write have failed
 * or found no data directory yet), so that an agent started later — after the old leader's keys
 * expired with its lease — still knows which servers to fence before it promotes.
 */
import type { FenceTarget } from '../cluster/orphans.ts';
import type { NodeCore } from './core.ts';

export class AddressBook {
  /** The book last written (the election keeps the same array while nothing changes). */
  private saved: readonly FenceTarget[] | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly h: Pick<NodeCore, 'pg' | 'actor' | 'log'>) {}

  /** The election's book, into the data directory if it changed since the last write; one write at a time. */
  save(): Promise<void> {
    if (this.book() === this.saved) return this.writing;
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  private book(): readonly FenceTarget[] | undefined {
    const election = this.h.actor.getSnapshot().children['election'];
    const snapshot = election?.getSnapshot() as
      | { context?: { knownServers?: readonly FenceTarget[] } }
      | undefined;
    return snapshot?.context?.knownServers;
  }

  private async write(): Promise<void> {
    const book = this.book();
    if (!book || book === this.saved) return;
    try {
      if (await this.h.pg.writeKnownServers(book)) this.saved = book;
    } catch (err) {
      this.h.log(`address book not kept: ${(err as Error).message}`);
    }
  }
}
