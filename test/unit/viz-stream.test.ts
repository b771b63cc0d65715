/** The visualizer's stream pieces: tokens, member frames from a journal, stream addresses. */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { Journal } from '../../src/actors/journal.ts';
import { journalTransitions } from '../../src/replay/transitions.ts';
import { webSocketUrl } from '../../src/transport/gossip-link.ts';
import { MemberStream, type StreamFrame } from '../../src/viz/member-stream.ts';
import { StreamTokens } from '../../src/viz/tokens.ts';

describe('StreamTokens', () => {
  it('a token opens the stream for a minute, and only this process’s', () => {
    let now = 1_000_000;
    const tokens = new StreamTokens(() => now);
    const t = tokens.issue();
    expect(tokens.valid(t)).toBe(true);
    expect(new StreamTokens(() => now).valid(t)).toBe(false);
    expect(tokens.valid(`${t}x`)).toBe(false);
    expect(tokens.valid(t.replace(/^\d+/, String(now + 600_000)))).toBe(false);
    expect(tokens.valid(null)).toBe(false);
    now += 61_000;
    expect(tokens.valid(t)).toBe(false);
  });
});

describe('webSocketUrl', () => {
  it('the member api_url with ws(s) and the path', () => {
    expect(webSocketUrl('http://10.0.0.1:8008/patroni', '/journal/stream')).toBe(
      'ws://10.0.0.1:8008/journal/stream',
    );
    expect(webSocketUrl('https://db1:8009/patroni?x=1', '/gossip')).toBe('wss://db1:8009/gossip');
    expect(webSocketUrl('ftp://db1/x', '/gossip')).toBeNull();
    expect(webSocketUrl(42, '/gossip')).toBeNull();
  });
});

const toy = createMachine({
  id: 'node',
  initial: 'a',
  states: { a: { on: { GO: 'b' } }, b: { initial: 'x', states: { x: { on: { GO: 'y' } }, y: {} } } },
});

function journalled() {
  let t = 1000;
  const journal = new Journal({ clock: { now: () => t, setTimeout: () => 0, clearTimeout: () => {} } });
  journal.header({ version: 'x', machines: 'y', node: 'pg1', settings: {} });
  const actor = createActor(toy, { id: 'node', inspect: (e) => journal.inspect(e) }).start();
  return { journal, actor, tick: (ms: number) => (t += ms) };
}

describe('MemberStream', () => {
  const host = (journal: Journal) => ({
    name: 'pg1',
    journal,
    report: () => ({ role: 'replica', state: 'running', isLeader: false }),
    leaseLeftMs: () => null,
    setInterval: () => () => undefined,
  });

  it('a subscriber gets a snapshot of what happened before, then each transition with its cause', () => {
    const { journal, actor, tick } = journalled();
    tick(10);
    actor.send({ type: 'GO' });
    const stream = new MemberStream(host(journal));
    const frames: StreamFrame[] = [];
    const stop = stream.subscribe((f) => frames.push(f));
    expect(frames[0]).toMatchObject({ type: 'snapshot', member: 'pg1' });
    const snap = frames[0] as Extract<StreamFrame, { type: 'snapshot' }>;
    expect(snap.transitions.map((t) => t.to)).toEqual(['a', 'b.x']);
    expect(snap.transitions[1]).toMatchObject({
      from: 'a',
      cause: { type: 'GO' },
      active: ['b', 'b.x'],
      chart: 'node',
    });
    expect(frames[1]).toMatchObject({ type: 'status', status: { role: 'replica', leaseDeadline: null } });
    tick(10);
    actor.send({ type: 'GO' });
    const moves = frames.filter((f) => f.type === 'transition');
    expect(moves).toEqual([
      expect.objectContaining({ transition: expect.objectContaining({ from: 'b.x', to: 'b.y', t: 1020 }) }),
    ]);
    // The node machine moved: its status follows at once.
    expect(frames.at(-1)).toMatchObject({ type: 'status', member: 'pg1' });
    stop();
    const before = frames.length;
    actor.stop();
    expect(frames.length).toBe(before);
  });

  it('nothing is read while nobody listens', () => {
    const { journal } = journalled();
    let listened = 0;
    const real = journal.subscribe.bind(journal);
    journal.subscribe = (fn) => {
      listened++;
      return real(fn);
    };
    const stream = new MemberStream(host(journal));
    expect(listened).toBe(0);
    stream.subscribe(() => undefined)();
    expect(listened).toBe(1);
  });
});

describe('journalTransitions', () => {
  it('each transition with the state it left and the event that moved it; a header starts over', () => {
    const { journal, actor } = journalled();
    actor.send({ type: 'GO' });
    const trs = journalTransitions(journal.entries());
    expect(trs.map((t) => [t.member, t.from, t.to, t.cause.label])).toEqual([
      ['pg1', null, 'a', 'start'],
      ['pg1', 'a', 'b.x', 'GO'],
    ]);
  });
});

describe('finished actors', () => {
  it('a REST request machine in its final state is finished; the node machine running is not', async () => {
    const { finishedIn } = await import('../../src/machines/definition.ts');
    const { manualFailoverMachine } = await import('../../src/machines/manual-failover.ts');
    const { nodeMachine } = await import('../../src/machines/node/index.ts');
    expect(finishedIn(manualFailoverMachine, 'answered')).toBe(true);
    expect(finishedIn(manualFailoverMachine, 'writing')).toBe(false);
    expect(finishedIn(nodeMachine, { active: { running: 'primary' } })).toBe(false);
  });
});
