/** Clock helpers shared by the benchmarks. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock milliseconds with sub-millisecond resolution; the only clock the benchmarks use. */
export const now = () => performance.timeOrigin + performance.now();
export const secs = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : ms / 1000);
