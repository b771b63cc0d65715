/**
 * Seeded randomness for the simulator and the chaos tools: one small PRNG, so that a seed
 * names a run (a schedule, a cluster's system identifiers, a flaky connection's failures) and
 * replays it exactly.
 */

/** A small deterministic PRNG (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
