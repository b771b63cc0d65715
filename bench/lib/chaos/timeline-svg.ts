/**
 * The chaos run as one picture: a standalone SVG (no scripts, fonts or files from elsewhere) a
 * person opens next to the text report. Time runs left to right; one lane per node shows its role
 * as the REST API reported it and the writes it acknowledged; faults are bands across all lanes;
 * under the lanes, each fault's outage as the checker measured it.
 *
 * Readable from a 5-minute run to a 2-hour one with 200 faults: the width follows the duration
 * (PX_PER_S) between MIN_PLOT_W and MAX_PLOT_W; the acks are a per-bin histogram whose bin grows
 * with the scale (a 2-hour run would otherwise be a million tick marks), while the few acks the
 * checker flags are drawn one by one on top; fault labels stand upright in their own band and
 * are thinned when they would touch, unsettled faults first. Every band keeps a <title>, so a
 * thinned label is still one hover away.
 */
import { type ChaosReport, faultName } from './checker.ts';
import type { FaultRecord, RoleSample, RunRecord } from './types.ts';

const PX_PER_S = 4;
const MIN_PLOT_W = 1000;
const MAX_PLOT_W = 9000;
const LEFT = 100;
const RIGHT = 24;
const HEADER_H = 104;
const LANE_H = 84;
const ROLE_Y = 4;
const ROLE_H = 16;
const HIST_Y = 26;
const HIST_H = 50;
const OUTAGE_H = 12;
const AXIS_H = 40;
/** Upright labels of 10 px type need this much room side by side, and about this per character. */
const LABEL_GAP_PX = 12;
const LABEL_CHAR_PX = 6.2;
const NAME_EVERY_PX = 1400;

const COLOR = {
  leader: '#2e7d32',
  replica: '#64b5f6',
  down: '#9e9e9e',
  other: '#ffb300',
  multi: '#37474f',
  direct: '#26a69a',
  flagged: '#d50000',
  explained: '#ff6d00',
  fault: '#7e57c2',
  faultText: '#4527a0',
  outage: '#b71c1c',
  grid: '#e0e0e0',
  muted: '#616161',
};

const ENTITY: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
export const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => ENTITY[c]!);

const r1 = (x: number) => Math.round(x * 10) / 10;
const secs = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
const title = (t?: string) => (t ? `<title>${escapeXml(t)}</title>` : '');

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${r1(x)}" y="${r1(y)}" ${attrs}>${escapeXml(s)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, attrs: string, tip?: string): string {
  const shape = `x="${r1(x)}" y="${r1(y)}" width="${r1(Math.max(w, 0))}" height="${r1(h)}" ${attrs}`;
  return tip ? `<rect ${shape}>${title(tip)}</rect>` : `<rect ${shape}/>`;
}

function vline(x: number, y1: number, y2: number, attrs: string, tip?: string): string {
  return `<line x1="${r1(x)}" x2="${r1(x)}" y1="${r1(y1)}" y2="${r1(y2)}" ${attrs}>${title(tip)}</line>`;
}

/** The first step in `steps` (ms) that is at least `minPx` wide at `pxPerMs`. */
function step(steps: number[], pxPerMs: number, minPx: number): number {
  return steps.find((s) => s * pxPerMs >= minPx) ?? steps.at(-1)!;
}

/** A node's role samples as [from, to) segments of one role and timeline. */
function roleSegments(samples: RoleSample[], end: number) {
  const segs: Array<{ from: number; to: number; role: RoleSample['role']; timeline?: number }> = [];
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  sorted.forEach((s, i) => {
    const to = sorted[i + 1]?.at ?? end;
    const last = segs.at(-1);
    if (last && last.role === s.role && last.timeline === s.timeline) last.to = to;
    else segs.push({ from: s.at, to, role: s.role, timeline: s.timeline });
  });
  return segs;
}

/** Where the picture puts things: shared by the parts below. */
interface Frame {
  durationMs: number;
  pxPerMs: number;
  plotW: number;
  x: (t: number) => number;
  bandTop: number;
  lanesTop: number;
  lanesBottom: number;
}

export function renderTimeline(run: RunRecord, report: ChaosReport): string {
  const durationMs = Math.max(run.durationMs, 1000);
  const plotW = Math.min(MAX_PLOT_W, Math.max(MIN_PLOT_W, (durationMs / 1000) * PX_PER_S));
  const pxPerMs = plotW / durationMs;
  const x = (t: number) => LEFT + Math.min(Math.max(t, 0), durationMs) * pxPerMs;
  const faults = [...run.faults].sort((a, b) => a.start - b.start);
  const labels = placeLabels(faults, x);
  // The label band is as tall as the longest label shown, so a short run wastes no height.
  const longest = Math.max(0, ...labels.map((l) => l.label.length));
  const bandH = Math.ceil(Math.min(200, longest * LABEL_CHAR_PX + 14));
  const lanesTop = HEADER_H + bandH;
  const lanesBottom = lanesTop + run.nodes.length * LANE_H;
  const f: Frame = { durationMs, pxPerMs, plotW, x, bandTop: HEADER_H, lanesTop, lanesBottom };
  const hist = histogram(run, f);
  const width = LEFT + plotW + RIGHT;
  const height = lanesBottom + OUTAGE_H + AXIS_H + 8;

  const labelText = labels.map(({ at, label, unsettled }) => {
    const color = unsettled ? COLOR.flagged : COLOR.faultText;
    return `<text transform="translate(${r1(at + 4)} ${lanesTop - 6}) rotate(-90)" font-size="10" fill="${color}">${escapeXml(label)}</text>`;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${r1(width)}" height="${height}" viewBox="0 0 ${r1(width)} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<defs><pattern id="unsettled" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="8" height="8" fill="${COLOR.flagged}" fill-opacity="0.06"/>` +
      `<line x1="0" y1="0" x2="0" y2="8" stroke="${COLOR.flagged}" stroke-opacity="0.35" stroke-width="2"/></pattern></defs>`,
    rect(0, 0, width, height, 'fill="#fff"'),
    ...header(run, report, width),
    ...faultBands(faults, report, f),
    `<g>${labelText.join('')}</g>`,
    ...axis(f),
    ...run.nodes.flatMap((node, k) => lane(run, report, f, hist, node, lanesTop + k * LANE_H)),
    ...outageRow(report, f),
    '</svg>',
    '',
  ].join('\n');
}

function header(run: RunRecord, report: ChaosReport, width: number): string[] {
  const lost = report.lost;
  const unexplained = lost?.filter((l) => !l.explained).length ?? 0;
  const staleAcks = report.splitBrain.stale.reduce((n, g) => n + g.ids.length, 0);
  const pass = report.problems.length === 0;
  return [
    text(
      12,
      24,
      `${run.agent} chaos run · seed ${run.seed} · ${run.synchronous ? 'synchronous' : 'asynchronous'} · ` +
        `${run.faults.length} faults · ${secs(run.durationMs)} s · commit ${run.commit}`,
      'font-size="16" font-weight="bold"',
    ),
    text(
      12,
      44,
      `${pass ? 'PASS' : 'FAIL'} · lost acks: ${lost === null ? 'not judged' : `${lost.length} (${unexplained} unexplained)`} · ` +
        `split brain: ${staleAcks} stale ack(s), ${report.splitBrain.sameTimeline.length} diverged timeline(s) · ` +
        `started ${run.startedAt}`,
      `font-size="13" fill="${pass ? COLOR.leader : COLOR.flagged}"`,
    ),
    legend(12, 58, width - 12),
  ];
}

/** Darker while held, lighter until the cluster settled, hatched red to the next fault if it never did. */
function faultBands(faults: FaultRecord[], report: ChaosReport, f: Frame): string[] {
  const outage = new Map(report.faults.map((o) => [o.seq, o]));
  const h = f.lanesBottom - f.bandTop;
  return faults.map((fault, i) => {
    const healed = fault.healed ?? fault.start;
    const next = faults[i + 1]?.start ?? f.durationMs;
    const o = outage.get(fault.seq);
    const tip =
      `${faultName(fault)} (${fault.targetRole}): ${secs(fault.start)}–${fault.healed === null ? '—' : secs(fault.healed)} s, ` +
      `settled ${fault.settled === null ? 'never' : `${secs(fault.settled)} s`}` +
      (o ? `, longest write gap ${secs(o.outageMs)} s` : '');
    const held = rect(
      f.x(fault.start),
      f.bandTop,
      f.x(healed) - f.x(fault.start),
      h,
      `fill="${COLOR.fault}" fill-opacity="0.28"`,
      tip,
    );
    const after =
      fault.settled === null
        ? rect(f.x(healed), f.bandTop, f.x(next) - f.x(healed), h, 'fill="url(#unsettled)"', tip)
        : rect(
            f.x(healed),
            f.bandTop,
            f.x(fault.settled) - f.x(healed),
            h,
            `fill="${COLOR.fault}" fill-opacity="0.1"`,
            tip,
          );
    return `<g>${held}${after}${vline(f.x(fault.start), f.bandTop, f.lanesBottom, `stroke="${COLOR.fault}"`)}</g>`;
  });
}

/** Upright labels above the lanes; where they would touch, unsettled faults keep theirs first. */
function placeLabels(faults: FaultRecord[], x: (t: number) => number) {
  const order = [...faults].sort(
    (a, b) => Number(a.settled !== null) - Number(b.settled !== null) || a.start - b.start,
  );
  const placed: Array<{ at: number; label: string; unsettled: boolean }> = [];
  for (const fault of order) {
    const at = x(fault.start);
    if (placed.some((p) => Math.abs(p.at - at) < LABEL_GAP_PX)) continue;
    placed.push({ at, label: faultName(fault), unsettled: fault.settled === null });
  }
  return placed;
}

function axis(f: Frame): string[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
  const tickMs = step(steps, f.pxPerMs, 70);
  const y = f.lanesBottom + OUTAGE_H;
  const out: string[] = [];
  for (let t = 0; t <= f.durationMs; t += tickMs) {
    out.push(
      vline(f.x(t), f.lanesTop, y + 5, `stroke="${COLOR.grid}"`),
      text(
        f.x(t),
        y + 18,
        `${Math.round(t / 1000)}`,
        `font-size="11" text-anchor="middle" fill="${COLOR.muted}"`,
      ),
    );
  }
  out.push(
    text(
      LEFT + f.plotW,
      y + 34,
      'time since start (s)',
      `font-size="11" text-anchor="end" fill="${COLOR.muted}"`,
    ),
  );
  return out;
}

/** Acks per node, group and bin: one scale for every lane (the fullest bin), so lanes compare. */
interface Histogram {
  binMs: number;
  maxBin: number;
  bins: Map<string, { multi: number[]; direct: number[] }>;
}

function histogram(run: RunRecord, f: Frame): Histogram {
  const binMs = step([250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000], f.pxPerMs, 3);
  const nBins = Math.ceil(f.durationMs / binMs) + 1;
  const zeros = () => new Array<number>(nBins).fill(0);
  const bins = new Map(run.nodes.map((n) => [n, { multi: zeros(), direct: zeros() }]));
  for (const a of run.attempts) {
    const b = a.outcome === 'ok' && a.node !== null ? bins.get(a.node) : undefined;
    if (b) b[a.group][Math.min(nBins - 1, Math.max(0, Math.floor(a.end / binMs)))]!++;
  }
  let maxBin = 1;
  for (const b of bins.values()) {
    for (let i = 0; i < nBins; i++) maxBin = Math.max(maxBin, b.multi[i]! + b.direct[i]!);
  }
  return { binMs, maxBin, bins };
}

/** One node: its role bar, then its acks per bin (multi from the baseline up, direct on top). */
function lane(
  run: RunRecord,
  report: ChaosReport,
  f: Frame,
  h: Histogram,
  node: string,
  top: number,
): string[] {
  const { binMs, maxBin } = h;
  const base = top + HIST_Y + HIST_H;
  const out = [
    `<line x1="${LEFT}" x2="${LEFT + f.plotW}" y1="${top}" y2="${top}" stroke="#bdbdbd"/>`,
    text(8, top + 16, node, 'font-size="13" font-weight="bold"'),
    text(8, top + HIST_Y + 20, `acks per ${secs(binMs)} s`, `font-size="10" fill="${COLOR.muted}"`),
    text(8, top + HIST_Y + 33, `(top: ${maxBin})`, `font-size="9" fill="${COLOR.muted}"`),
  ];
  let lastTl: number | undefined;
  let lastLabelX = Number.NEGATIVE_INFINITY;
  for (const s of roleSegments(
    run.roles.filter((r) => r.node === node),
    f.durationMs,
  )) {
    out.push(rect(f.x(s.from), top + ROLE_Y, f.x(s.to) - f.x(s.from), ROLE_H, `fill="${COLOR[s.role]}"`));
    // The timeline is written where a leader's changes, if there is room since the last one.
    if (s.role !== 'leader' || s.timeline === undefined || s.timeline === lastTl) continue;
    lastTl = s.timeline;
    if (f.x(s.from) < lastLabelX + 30) continue;
    lastLabelX = f.x(s.from);
    out.push(
      text(
        lastLabelX + 2,
        top + ROLE_Y + 12,
        `tl ${s.timeline}`,
        'font-size="10" fill="#fff" font-weight="bold"',
      ),
    );
  }

  const scale = HIST_H / maxBin;
  const w = binMs * f.pxPerMs;
  const b = h.bins.get(node);
  for (const group of ['multi', 'direct'] as const) {
    let d = '';
    b?.[group].forEach((n, i) => {
      if (n === 0) return;
      const below = group === 'direct' ? b.multi[i]! * scale : 0;
      d += `M${r1(f.x(i * binMs))} ${r1(base - below)}h${r1(w)}v${r1(-n * scale)}h${r1(-w)}z`;
    });
    if (d) out.push(`<path d="${d}" fill="${COLOR[group]}"/>`);
  }

  // The acks the checker flagged, one tick each: few, and the point of the picture.
  const flagged = new Set(report.flaggedIds);
  const explained = new Set((report.lost ?? []).filter((l) => l.explained).map((l) => l.id));
  for (const a of run.attempts) {
    if (a.node !== node || a.outcome !== 'ok' || (!flagged.has(a.id) && !explained.has(a.id))) continue;
    const color = flagged.has(a.id) ? COLOR.flagged : COLOR.explained;
    const tip = `id ${a.id} ${a.client} tl ${a.timeline ?? '?'} at ${secs(a.end)} s`;
    out.push(vline(f.x(a.end), top + HIST_Y - 2, base, `stroke="${color}" stroke-width="1.5"`, tip));
  }
  // A long run scrolls: the lane's name again every NAME_EVERY_PX (over the bars), so it is never
  // off screen.
  for (let px = NAME_EVERY_PX; px < f.plotW - 100; px += NAME_EVERY_PX) {
    out.push(
      text(
        LEFT + px + 3,
        top + HIST_Y + 9,
        node,
        `font-size="10" fill="${COLOR.muted}" stroke="#fff" stroke-width="3" paint-order="stroke"`,
      ),
    );
  }

  return out;
}

/** Each fault's longest stretch without a multi-client ack, as checker.ts measured it. */
function outageRow(report: ChaosReport, f: Frame): string[] {
  const y = f.lanesBottom + 2;
  return [
    `<line x1="${LEFT}" x2="${LEFT + f.plotW}" y1="${f.lanesBottom}" y2="${f.lanesBottom}" stroke="#757575"/>`,
    text(8, y + 9, 'write outage', `font-size="10" fill="${COLOR.muted}"`),
    ...report.faults.map((o) =>
      rect(
        f.x(o.from),
        y + 1,
        Math.max(1, f.x(o.to) - f.x(o.from)),
        OUTAGE_H - 4,
        `fill="${COLOR.outage}" fill-opacity="0.75"`,
        `#${o.seq} ${o.kind}: no multi-client ack for ${secs(o.outageMs)} s${o.resumed ? '' : ' (writes did not resume)'}`,
      ),
    ),
  ];
}

/** Swatches with their labels, wrapped onto a second row when the picture is narrow. */
function legend(x0: number, y0: number, maxX: number): string {
  const items: Array<[string, string]> = [
    [`fill="${COLOR.leader}"`, 'leader'],
    [`fill="${COLOR.replica}"`, 'replica'],
    [`fill="${COLOR.down}"`, 'down'],
    [`fill="${COLOR.other}"`, 'other'],
    [`fill="${COLOR.multi}"`, 'acks, multi-host clients'],
    [`fill="${COLOR.direct}"`, 'acks, clients pinned to the node'],
    [`fill="${COLOR.flagged}"`, 'flagged ack (split brain, unexplained loss)'],
    [`fill="${COLOR.explained}"`, 'lost ack, explained'],
    [`fill="${COLOR.fault}" fill-opacity="0.28"`, 'fault held'],
    [`fill="${COLOR.fault}" fill-opacity="0.1"`, 'healed, settling'],
    ['fill="url(#unsettled)"', 'never settled'],
    [`fill="${COLOR.outage}" fill-opacity="0.75"`, 'longest write gap of a fault'],
  ];
  const out: string[] = [];
  let x = x0;
  let y = y0;
  for (const [fill, label] of items) {
    const w = 18 + label.length * LABEL_CHAR_PX + 14;
    if (x + w > maxX && x > x0) {
      x = x0;
      y += 20;
    }
    out.push(
      rect(x, y, 14, 12, `${fill} stroke="#9e9e9e" stroke-width="0.5"`),
      text(x + 18, y + 10, label, 'font-size="11"'),
    );
    x += w;
  }
  return `<g>${out.join('')}</g>`;
}
