/**
 * The chaos run's picture: well-formed XML (checked by a small tag-balancing reader, the project
 * has no XML parser), with the lanes, the fault labels and the flagged acks a person looks for.
 */
import { describe, expect, it } from 'vitest';
import { analyse } from '../../bench/lib/chaos/checker.ts';
import { escapeXml, renderTimeline } from '../../bench/lib/chaos/timeline-svg.ts';
import type { FaultRecord } from '../../bench/lib/chaos/types.ts';
import { syntheticRun } from '../helpers/chaos-run.ts';

const TAG = /^<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/;

/** Throws unless `xml` is one element with balanced, well-formed tags and escaped text. */
function checkWellFormed(xml: string): { tags: Map<string, number> } {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tags = new Map<string, number>();
  let roots = 0;
  for (const token of body.match(/<[^>]*>|[^<]+/g) ?? []) {
    if (!token.startsWith('<')) {
      if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(token)) throw new Error(`bare & in text: ${token}`);
      if (stack.length === 0 && token.trim()) throw new Error(`text outside the root: ${token}`);
      continue;
    }
    const m = TAG.exec(token);
    if (!m) throw new Error(`malformed tag: ${token.slice(0, 80)}`);
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
      continue;
    }
    if (stack.length === 0) roots++;
    tags.set(name!, (tags.get(name!) ?? 0) + 1);
    if (!selfClosing) stack.push(name!);
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(' ')}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return { tags };
}

describe('the well-formedness check itself', () => {
  it('rejects what a broken picture would contain', () => {
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow();
    expect(() => checkWellFormed('<svg><text>a & b</text></svg>')).toThrow(/bare &/);
    expect(() => checkWellFormed('<svg x=1></svg>')).toThrow(/malformed/);
    expect(() => checkWellFormed('<svg/><svg/>')).toThrow(/root/);
    expect(checkWellFormed('<svg><text>a &amp; b</text><rect/></svg>').tags.get('rect')).toBe(1);
  });
});

describe('renderTimeline', () => {
  const run = syntheticRun({ durationS: 300, faults: 6, plant: true });
  const report = analyse(run);
  const svg = renderTimeline(run, report);

  it('is a well-formed standalone SVG', () => {
    const { tags } = checkWellFormed(svg);
    expect(tags.get('svg')).toBe(1);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).not.toMatch(/href=|<script|<image/); // nothing from elsewhere
  });

  it('has a lane per node and a label per fault', () => {
    for (const node of run.nodes) expect(svg).toContain(`font-weight="bold">${node}</text>`);
    for (const f of run.faults) expect(svg).toContain(`>#${f.seq} ${f.kind} ${f.target}</text>`);
    expect(svg).toContain('tl 2'); // the leader's timeline on its bar
  });

  it('draws the acks the checker flagged in red, and names the findings in the header', () => {
    expect(report.flaggedIds.length).toBeGreaterThan(0);
    const red = svg.match(/<line [^>]*stroke="#d50000" stroke-width="1.5"/g) ?? [];
    expect(red).toHaveLength(report.flaggedIds.length);
    expect(svg).toContain('FAIL · lost acks: 2 (1 unexplained) · split brain: 1 stale ack(s)');
  });

  it('escapes text', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
    const odd = renderTimeline({ ...run, commit: 'x<y&z' }, report);
    checkWellFormed(odd);
    expect(odd).toContain('commit x&lt;y&amp;z');
  });

  it('thins crowded labels but keeps the unsettled fault', () => {
    const faults: FaultRecord[] = Array.from({ length: 200 }, (_, i) => ({
      seq: i + 1,
      kind: 'kill-etcd-member',
      target: 'etcd2',
      targetRole: 'etcd',
      holdMs: 500,
      start: 10_000 + i * 1000,
      healed: 10_500 + i * 1000,
      settled: i === 150 ? null : 10_800 + i * 1000,
      notes: {},
    }));
    const crowded = { ...run, faults };
    const out = renderTimeline(crowded, analyse(crowded));
    checkWellFormed(out);
    const labels = out.match(/>#\d+ kill-etcd-member etcd2<\/text>/g) ?? [];
    expect(labels.length).toBeGreaterThan(50);
    expect(labels.length).toBeLessThan(200);
    expect(out).toContain('>#151 kill-etcd-member etcd2</text>');
  });

  it('caps the width of a two-hour run', () => {
    const long = { ...run, durationMs: 7_200_000 };
    const width = Number(/<svg [^>]*width="([\d.]+)"/.exec(renderTimeline(long, analyse(long)))![1]);
    expect(width).toBeLessThanOrEqual(9200);
    expect(width).toBeGreaterThan(8000);
    const short = Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1]);
    expect(short).toBeLessThan(1600);
  });
});
