import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import type { ManualAnswer } from '../../src/machines/manual-failover.ts';
import {
  NODE_ANSWER_MS,
  type NodeReinitializeAnswer,
  type ReinitializeRequestInput,
  reinitializeRequestMachine,
} from '../../src/machines/reinitialize-request.ts';

const withLeader = (name: string): ClusterView => ({
  ...emptyClusterView,
  leader: { name, index: '1', session: '1' },
});

/** Runs one request with the given DCS read and node answer; counts what the node was asked. */
async function run(
  input: Partial<ReinitializeRequestInput>,
  read: () => Promise<ClusterView>,
  node: (force: boolean) => Promise<NodeReinitializeAnswer>,
  clock = new SimulatedClock(),
): Promise<{ answer: ManualAnswer; asked: boolean[] }> {
  const asked: boolean[] = [];
  const machine = reinitializeRequestMachine.provide({
    actors: {
      readCluster: fromPromise(read),
      askNode: fromPromise(({ input: i }: { input: { force: boolean } }) => {
        asked.push(i.force);
        return node(i.force);
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { me: 'n2', iHoldTheLock: false, force: false, ...input },
  });
  const done = new Promise<ManualAnswer>((resolve) =>
    actor.subscribe({ complete: () => resolve(actor.getSnapshot().output as ManualAnswer) }),
  );
  actor.start();
  return { answer: await done, asked };
}

const started = async (): Promise<NodeReinitializeAnswer> => ({ started: true });

describe('POST /reinitialize as a machine (reinitializeRequest)', () => {
  it('asks the node only when a leader other than us holds the lock on a fresh read', async () => {
    const ok = await run({ force: true }, async () => withLeader('n1'), started);
    expect(ok).toEqual({ answer: { status: 200, text: 'reinitialize started' }, asked: [true] });
  });

  it("refuses with Patroni's texts and asks the node nothing", async () => {
    const noLeader = await run({}, async () => emptyClusterView, started);
    expect(noLeader).toEqual({
      answer: { status: 503, text: 'Cluster has no leader, can not reinitialize' },
      asked: [],
    });
    const leaderKey = await run({}, async () => withLeader('n2'), started);
    expect(leaderKey.answer.text).toBe('I am the leader, can not reinitialize');
    const lockHeld = await run({ iHoldTheLock: true }, async () => withLeader('n1'), started);
    expect(lockHeld).toEqual({
      answer: { status: 503, text: 'I am the leader, can not reinitialize' },
      asked: [],
    });
  });

  it('answers 503 with the reason when etcd cannot be read, and removes nothing', async () => {
    const r = await run({}, () => Promise.reject(new Error('connection refused')), started);
    expect(r).toEqual({
      answer: { status: 503, text: 'DCS is not accessible: connection refused' },
      asked: [],
    });
  });

  it('says what keeps the node busy', async () => {
    const r = await run(
      {},
      async () => withLeader('n1'),
      async () => ({ started: false, action: 'restarting' }),
    );
    expect(r.answer).toEqual({ status: 503, text: 'restarting already in progress' });
  });

  it('gives up after NODE_ANSWER_MS when the node machine does not answer', async () => {
    const clock = new SimulatedClock();
    const pending = run(
      {},
      async () => withLeader('n1'),
      () => new Promise(() => {}),
      clock,
    );
    for (let i = 0; i < 5; i++) await Promise.resolve();
    clock.increment(NODE_ANSWER_MS - 1);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(settled).toBe(false);
    clock.increment(1);
    expect(await pending).toEqual({
      answer: { status: 503, text: 'reinitialize already in progress' },
      asked: [false],
    });
  });
});
