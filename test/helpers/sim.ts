import { SimulatedClock } from 'xstate';

/** Let resolved promises (invoked promise actors) deliver their results. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Advance simulated time in small steps, settling promises at each step. */
export async function advance(clock: SimulatedClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.increment(Math.min(step, ms - t));
    await settle(2);
  }
}

export { SimulatedClock };
