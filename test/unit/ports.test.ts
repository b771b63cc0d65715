/**
 * Ports picked now and bound later must stay clear of the ephemeral range, where any outgoing
 * connection may take them first (a CI run's cluster never became ready that way).
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { candidateRange, ephemeralRange, freePort, preferredPort } from '../../src/local/ports.ts';

describe('free ports', () => {
  it('reads ip_local_port_range, and falls back to the kernel default', () => {
    expect(ephemeralRange('32768\t60999\n')).toEqual([32768, 60999]);
    expect(ephemeralRange('1024 65535')).toEqual([1024, 65535]);
    expect(ephemeralRange('garbage')).toEqual([32768, 60999]);
  });

  it('picks below the ephemeral range, above it when too little is left below, anywhere as a last resort', () => {
    expect(candidateRange([32768, 60999])).toEqual([10000, 32767]);
    expect(candidateRange([10500, 60000])).toEqual([60001, 65535]);
    expect(candidateRange([1024, 65535])).toEqual([10000, 65535]);
  });

  it('hands out distinct bindable ports outside this machine’s ephemeral range', async () => {
    const [lo, hi] = ephemeralRange();
    const ports = new Set<number>();
    for (let i = 0; i < 50; i++) ports.add(await freePort());
    expect(ports.size).toBe(50);
    if (lo - 10000 >= 1000) for (const p of ports) expect(p < lo || p > hi).toBe(true);
  });

  it('a taken preferred port gives another one', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const taken = (srv.address() as { port: number }).port;
    try {
      expect(await preferredPort(taken)).not.toBe(taken);
      expect(await preferredPort(null)).toBeGreaterThan(0);
    } finally {
      srv.close();
    }
  });
});
