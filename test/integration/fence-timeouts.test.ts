/**
 * How long the fence waits for a server it cannot fence (src/actors/postgres/fence.ts). A new
 * leader fences every other server before it promotes its own, so each wait here is write
 * outage: a host that does not even answer the TCP handshake (dead, or cut off — its agent, if
 * alive, stopped its server by its lease's end) is given up on after FENCE_HANDSHAKE_MS; one that
 * answers the handshake and then says nothing (a frozen postmaster) after the rule's session wait
 * (0.4 s before a promotion, 2 s at rest); a refused connection at once.
 *
 * The silent host is a real network namespace whose cable is down (test/helpers/netns.ts): the
 * SYN vanishes, as across a cut cable. No PostgreSQL is needed: nothing here gets that far.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fencePostgres } from '../../src/actors/postgres/fence.ts';
import {
  FENCE_HANDSHAKE_MS,
  FENCE_SESSION_WAIT_MS,
  type FenceRule,
  type FenceTarget,
} from '../../src/cluster/orphans.ts';
import { IP, removeStale, TestNetwork } from '../helpers/netns.ts';
import { describeWith, program, root } from '../helpers/prerequisites.ts';

const RULE: FenceRule = {
  belowTimeline: null,
  systemIdentifier: null,
  sessionWaitMs: FENCE_SESSION_WAIT_MS.promotion,
};
const SUPERUSER = { username: 'postgres', password: 'unused' };

/** How long fencing `target` took, and how it ended. */
async function timedFence(target: FenceTarget, rule = RULE): Promise<{ ms: number; error: string | null }> {
  const started = performance.now();
  try {
    await fencePostgres(target, rule, SUPERUSER, 'test');
    return { ms: performance.now() - started, error: null };
  } catch (err) {
    return { ms: performance.now() - started, error: (err as Error).message };
  }
}

describeWith(
  [root('a network namespace'), program(IP, 'iproute2')],
  'the fence gives up on a server it cannot reach, by how far it got',
  () => {
    let net: TestNetwork | undefined;
    let silent: Server | undefined;
    const silentSockets: Socket[] = [];

    beforeAll(() => {
      removeStale();
      net = new TestNetwork(1);
      net.create();
      net.setLink(0, false);
    });

    afterAll(async () => {
      net?.destroy();
      // A socket nobody reads never sees its end: closed here, or the server never closes.
      for (const s of silentSockets) s.destroy();
      await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    });

    it('a host that never answers the TCP handshake: given up on after the handshake timeout', async () => {
      const cutOff = { name: 'node0', host: net!.nodeHost(0), port: 5432 };
      const { ms, error } = await timedFence(cutOff);
      expect(error).toMatch(/no TCP answer/);
      expect(ms).toBeGreaterThanOrEqual(FENCE_HANDSHAKE_MS - 5);
      expect(ms).toBeLessThan(FENCE_SESSION_WAIT_MS.promotion);
    });

    it("a server that answers the handshake and then says nothing: given up on after the session wait, the promotion's or the watch's", {
      timeout: 10_000,
    }, async () => {
      silent = createServer((s) => silentSockets.push(s));
      await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      const frozen = { name: 'frozen', host: '127.0.0.1', port };
      const beforePromotion = await timedFence(frozen);
      expect(beforePromotion.error).toMatch(/timeout expired/);
      expect(beforePromotion.ms).toBeGreaterThanOrEqual(FENCE_SESSION_WAIT_MS.promotion - 5);
      expect(beforePromotion.ms).toBeLessThan(FENCE_SESSION_WAIT_MS.watch);
      const atRest = await timedFence(frozen, { ...RULE, sessionWaitMs: FENCE_SESSION_WAIT_MS.watch });
      expect(atRest.error).toMatch(/timeout expired/);
      expect(atRest.ms).toBeGreaterThanOrEqual(FENCE_SESSION_WAIT_MS.watch - 5);
    });

    it('a refused connection: at once', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as { port: number }).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const { ms, error } = await timedFence({ name: 'dead', host: '127.0.0.1', port });
      expect(error).toMatch(/ECONNREFUSED/);
      expect(ms).toBeLessThan(FENCE_HANDSHAKE_MS);
    });
  },
);
