import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { coveredMachines } from '../../src/testing/coverage.ts';
import { transitionsDocument, transitionTable } from '../../src/testing/transition-table.ts';

describe('docs/transitions.md', () => {
  it('is what the machine definitions say (regenerate: npx tsx scripts/transitions.ts > docs/transitions.md)', () => {
    const doc = readFileSync(new URL('../../docs/transitions.md', import.meta.url), 'utf8');
    expect(doc).toBe(`${transitionsDocument(coveredMachines)}\n`);
  });

  it('names every guard: no inline guard in any machine', () => {
    expect(transitionsDocument(coveredMachines)).not.toContain('(inline)');
    // …which it would show: a planted inline guard.
    const planted = setup({}).createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { on: { E: { guard: () => true, target: 'b' } } }, b: {} },
    });
    expect(transitionTable(planted)).toContain('| E | (inline) | b |');
  });
});
