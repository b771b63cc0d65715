/**
 * The statecharts the visualizer draws, read from the production machine definitions: each
 * state with its `description`, each transition with its trigger and guard, laid out by ELK (a
 * real layered graph layout, nested states inside their parents). Built once per process, on
 * the first request for the page, and the same for every member (same definitions).
 */
import type { AnyStateMachine } from 'xstate';
import { guardText, type StateNodeLike, transitionsOf, triggerText } from '../machines/definition.ts';
import { allMachines } from '../machines/index.ts';

export interface ChartState {
  /** Path below the machine root: `active.running.primary`. */
  id: string;
  label: string;
  kind: StateNodeLike['type'];
  description?: string;
  /** Laid out: position relative to the chart, size. */
  x: number;
  y: number;
  width: number;
  height: number;
  children: ChartState[];
}

export interface ChartEdge {
  from: string;
  to: string;
  /** Every transition between the two: `CLUSTER [isLeader]`, `after loopWait`. */
  labels: string[];
  /** The route ELK drew: points relative to the chart. */
  points: Array<{ x: number; y: number }>;
}

export interface Chart {
  /** The machine id (`node`, `election`, `scheduledAction`, ...). */
  id: string;
  title: string;
  description?: string;
  width: number;
  height: number;
  states: ChartState[];
  edges: ChartEdge[];
}

/** The charts, in the order the page shows them, with their titles. */
const TITLES: Record<string, string> = {
  node: 'Node lifecycle',
  election: 'Leader election',
  leaderDuties: 'Leader duties (synchronous replication, /status, slots)',
  serverParameters: 'Server parameters',
  scheduledAction: 'Scheduled restart / switchover',
  manualFailover: 'Switchover request',
  dcsEdit: '/config edit',
  reinitializeRequest: 'Reinitialize request',
};

const CHAR_WIDTH = 7;
const LEAF_HEIGHT = 26;
const PADDING = 12;
const LABEL_SPACE = 22;

interface ElkNode {
  id: string;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  labels?: Array<{ text: string }>;
  children?: ElkNode[];
  edges?: ElkEdge[];
  layoutOptions?: Record<string, string>;
}

interface ElkEdge {
  id: string;
  sources: string[];
  targets: string[];
  sections?: Array<{
    startPoint: { x: number; y: number };
    endPoint: { x: number; y: number };
    bendPoints?: Array<{ x: number; y: number }>;
  }>;
  container?: string;
}

function rel(root: string, id: string): string {
  return id === root ? '' : id.slice(root.length + 1);
}

/** The ELK graph of one machine: nested nodes, and one edge per source/target pair. */
function elkGraph(machine: AnyStateMachine): { graph: ElkNode; labels: Map<string, string[]> } {
  const root = machine.root as unknown as StateNodeLike;
  const labels = new Map<string, string[]>();
  const edges: ElkEdge[] = [];
  const toNode = (n: StateNodeLike): ElkNode => {
    const id = rel(root.id, n.id);
    for (const t of transitionsOf(n)) {
      for (const target of t.target ?? []) {
        const to = rel(root.id, target.id);
        if (to === id) continue; // a self-loop says nothing a reader needs on the chart
        const key = `${id}→${to}`;
        const guard = guardText(t.guard);
        const text = `${triggerText(t, root.id)}${guard ? ` [${guard}]` : ''}`;
        if (!labels.has(key)) {
          labels.set(key, []);
          edges.push({ id: key, sources: [id], targets: [to] });
        }
        labels.get(key)!.push(text);
      }
    }
    const kids = Object.values(n.states);
    const label = n.key;
    if (kids.length === 0)
      return { id, width: Math.max(60, label.length * CHAR_WIDTH + 2 * PADDING), height: LEAF_HEIGHT };
    return {
      id,
      labels: [{ text: label }],
      children: kids.map(toNode),
      layoutOptions: {
        'elk.padding': `[top=${LABEL_SPACE + 6},left=${PADDING},bottom=${PADDING},right=${PADDING}]`,
        'elk.direction': n.type === 'parallel' ? 'RIGHT' : 'DOWN',
      },
    };
  };
  const top = Object.values(root.states).map(toNode);
  return {
    graph: {
      id: '(root)',
      children: top,
      edges,
      layoutOptions: {
        'elk.algorithm': 'layered',
        'elk.direction': 'DOWN',
        'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
        'elk.layered.spacing.nodeNodeBetweenLayers': '28',
        'elk.spacing.nodeNode': '18',
        'elk.edgeRouting': 'ORTHOGONAL',
        'elk.padding': '[top=10,left=10,bottom=10,right=10]',
      },
    },
    labels,
  };
}

function chartStates(
  nodes: ElkNode[] | undefined,
  machine: AnyStateMachine,
  dx: number,
  dy: number,
): ChartState[] {
  const root = machine.root as unknown as StateNodeLike;
  return (nodes ?? []).map((n) => {
    const def = stateNode(root, n.id);
    const x = dx + (n.x ?? 0);
    const y = dy + (n.y ?? 0);
    const s: ChartState = {
      id: n.id,
      label: def.key,
      kind: def.type,
      x,
      y,
      width: n.width ?? 0,
      height: n.height ?? 0,
      children: chartStates(n.children, machine, x, y),
    };
    if (def.description) s.description = def.description;
    return s;
  });
}

function stateNode(root: StateNodeLike, path: string): StateNodeLike {
  let n = root;
  for (const key of path.split('.')) n = n.states[key]!;
  return n;
}

/** Where each laid-out node sits in chart coordinates (ELK's are relative to the parent). */
function absolute(
  nodes: ElkNode[] | undefined,
  dx: number,
  dy: number,
  out: Map<string, { x: number; y: number }>,
) {
  for (const n of nodes ?? []) {
    const x = dx + (n.x ?? 0);
    const y = dy + (n.y ?? 0);
    out.set(n.id, { x, y });
    absolute(n.children, x, y, out);
  }
}

async function layoutChart(machine: AnyStateMachine): Promise<Chart> {
  const mod = (await import('elkjs/lib/elk.bundled.js')) as unknown as { default?: unknown };
  const ELK = (mod.default ?? mod) as new () => { layout(graph: unknown): Promise<unknown> };
  const elk = new ELK();
  const { graph, labels } = elkGraph(machine);
  const laid = (await elk.layout(graph as never)) as unknown as ElkNode;
  const offsets = new Map<string, { x: number; y: number }>();
  absolute(laid.children, 0, 0, offsets);
  const edges: ChartEdge[] = (laid.edges ?? []).map((e) => {
    // An edge's sections are relative to its container (the lowest common ancestor ELK chose).
    const base =
      e.container && e.container !== '(root)' ? (offsets.get(e.container) ?? { x: 0, y: 0 }) : { x: 0, y: 0 };
    const points = (e.sections ?? []).flatMap((s) =>
      [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => ({ x: p.x + base.x, y: p.y + base.y })),
    );
    return { from: e.sources[0]!, to: e.targets[0]!, labels: labels.get(e.id) ?? [], points };
  });
  const root = machine.root as unknown as StateNodeLike;
  const chart: Chart = {
    id: machine.id,
    title: TITLES[machine.id] ?? machine.id,
    width: laid.width ?? 0,
    height: laid.height ?? 0,
    states: chartStates(laid.children, machine, 0, 0),
    edges,
  };
  if (root.description) chart.description = root.description;
  return chart;
}

let charts: Promise<Chart[]> | null = null;

/** Every machine's chart, laid out once per process (elkjs is loaded only then). */
export function machineCharts(): Promise<Chart[]> {
  charts ??= Promise.all(allMachines.filter((m) => TITLES[m.id] !== undefined).map((m) => layoutChart(m)));
  return charts;
}
