import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, setup, waitFor } from 'xstate';
import { shared } from '../../src/testing/shared-machine.ts';

const inner = setup({
  actors: { fetch: fromPromise<string, { n: number }>(async () => 'unprovided') },
}).createMachine({
  id: 'inner',
  initial: 'fetching',
  context: { got: '' },
  states: {
    fetching: {
      invoke: {
        src: 'fetch',
        input: { n: 2 },
        onDone: { target: 'done', actions: ({ event }) => void event },
      },
    },
    done: { type: 'final' },
  },
  output: () => 'inner done',
});

const outer = setup({
  types: { context: {} as { log: string[] } },
  actors: {
    load: fromPromise<string, { n: number }>(async () => 'unprovided'),
    inner,
  },
}).createMachine({
  id: 'outer',
  context: () => ({ log: [] }),
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'load',
        input: { n: 1 },
        onDone: {
          target: 'nested',
          actions: ({ context, event }) => context.log.push(event.output),
        },
      },
    },
    nested: {
      invoke: {
        src: 'inner',
        onDone: { target: 'done', actions: ({ context, event }) => context.log.push(String(event.output)) },
      },
    },
    done: { type: 'final' },
  },
});

function provideFor(name: string, calls: string[]) {
  const nested = shared(inner).provide({
    actors: {
      fetch: fromPromise<string, { n: number }>(async ({ input }) => {
        calls.push(`${name} fetch ${input.n}`);
        return `${name}-fetched`;
      }),
    },
  });
  return shared(outer).provide({
    actors: {
      load: fromPromise<string, { n: number }>(async ({ input }) => {
        calls.push(`${name} load ${input.n}`);
        return `${name}-loaded`;
      }),
      inner: nested,
    },
  });
}

describe('shared(machine).provide', () => {
  it('runs each root actor with the actors given to it, nested machines included', async () => {
    const calls: string[] = [];
    const a = createActor(provideFor('a', calls));
    const b = createActor(provideFor('b', calls));
    a.start();
    b.start();
    await waitFor(a, (s) => s.status === 'done');
    await waitFor(b, (s) => s.status === 'done');
    expect(a.getSnapshot().context.log).toEqual(['a-loaded', 'inner done']);
    expect(b.getSnapshot().context.log).toEqual(['b-loaded', 'inner done']);
    expect(calls.sort()).toEqual(['a fetch 2', 'a load 1', 'b fetch 2', 'b load 1']);
  });

  it('builds the provided machine once and answers a machine like provide() would', () => {
    const a = provideFor('a', []);
    const b = provideFor('b', []);
    expect(a).not.toBe(b);
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b));
    expect(a.id).toBe('outer');
    expect(a.getStateNodeById('outer.nested')).toBeDefined();
  });

  it('refuses an actor that is not a promise actor or a shared machine', () => {
    expect(() => shared(outer).provide({ actors: { load: fromCallback(() => {}) as never, inner } })).toThrow(
      /neither fromPromise nor a shared\(\) machine/,
    );
  });
});
