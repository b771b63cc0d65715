/**
 * The transition tables of docs/transitions.md, generated from the machine definitions
 * themselves (as pg_auto_failover's FSM table documents its states): per state, every event,
 * the named guard that must hold, where it goes and what it does. Guarded alternatives are
 * listed in the order XState tries them; the first whose guard holds is taken. A unit test
 * keeps the document equal to this output, so the table cannot drift from the code.
 *
 * Regenerate with `npx tsx scripts/transitions.ts > docs/transitions.md`.
 */
import type { AnyStateMachine } from 'xstate';
import { guardText, type StateNodeLike, transitionsOf, triggerText } from '../machines/definition.ts';
import { transientStateIds } from './coverage.ts';

function actionText(a: unknown): string | null {
  if (typeof a === 'string') return a;
  const type = (a as { type?: string } | null)?.type;
  if (!type) return null;
  // Inline assign/sendTo/emit carry XState's own type names: shown as what they are.
  if (type === 'xstate.sendTo' || type === 'xstate.sendParent') return 'send';
  return type.replace(/^xstate\./, '');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');

function stateRows(node: StateNodeLike, machineId: string): string[] {
  const described = describes(node);
  const rel = (id: string) => (id === machineId ? '(root)' : id.slice(machineId.length + 1));
  const transitions = transitionsOf(node);
  const rows: string[] = [];
  for (const t of transitions) {
    const targets = t.target && t.target.length > 0 ? t.target.map((s) => rel(s.id)).join(', ') : '(stays)';
    const actions = (t.actions ?? []).map(actionText).filter((a): a is string => a !== null);
    const why = described ? ` ${cell(t.description ?? '')} |` : '';
    rows.push(
      `| ${cell(triggerText(t, machineId))} | ${cell(guardText(t.guard))} | ${cell(targets)}${t.reenter ? ' (re-entered)' : ''} | ${cell(actions.join(', '))} |${why}`,
    );
  }
  return rows;
}

/** A state whose transitions say why (XState's transition `description`) gets a column for it. */
function describes(node: StateNodeLike): boolean {
  return transitionsOf(node).some((t) => !!t.description);
}

/** One machine's table, state by state in document order. */
export function transitionTable(machine: AnyStateMachine): string {
  const root = machine.root as unknown as StateNodeLike;
  const transient = transientStateIds(machine);
  const out: string[] = [`## ${root.id}`, ''];
  if (root.description) out.push(root.description, '');
  const walk = (node: StateNodeLike) => {
    const rows = stateRows(node, root.id);
    const nested = Object.keys(node.states).length > 0;
    if (rows.length > 0 || node.description || !nested) {
      const name = node.id === root.id ? '(root: any state)' : node.id.slice(root.id.length + 1);
      out.push(`### \`${name}\`${transient.has(node.id) ? ' (passed through)' : ''}`, '');
      if (node.description) out.push(node.description, '');
      if (rows.length > 0) {
        const header = describes(node)
          ? ['| on | guard | to | actions | why |', '|---|---|---|---|---|']
          : ['| on | guard | to | actions |', '|---|---|---|---|'];
        out.push(...header, ...rows, '');
      } else if (!nested) {
        out.push('(final, or left only by a parent state’s transitions)', '');
      }
    }
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(root);
  return out.join('\n');
}

/** The whole document. */
export function transitionsDocument(machines: readonly AnyStateMachine[]): string {
  return [
    '# Transition tables',
    '',
    'Generated from the machine definitions by `src/testing/transition-table.ts`',
    '(`npx tsx scripts/transitions.ts > docs/transitions.md`); a unit test fails when this file and',
    'the machines disagree. Per state: every event it handles, the named guard that must hold (guarded',
    'alternatives in the order they are tried; the first that holds is taken), the target, the',
    'actions. Events a state does not list are handled by its ancestors. Guards and actions are',
    'defined, with the reason for each, in the `setup()` of the machine in `src/machines/` (its',
    "file, or its folder's `setup.ts`).",
    '',
    ...machines.map(transitionTable),
  ].join('\n');
}
