/**
 * The statechart visualizer in a real browser (headless Chromium) against a real 3-node cluster:
 * the live page shows each member as its /patroni reports it, follows a switchover within a
 * second, shows a member whose agent stopped as gone, and `pgwarden viz` replays the recorded
 * journals with a time scrubber.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, REST_AUTH } from '../../src/local/cluster.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { eventually, sleep, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const BIN = path.resolve(import.meta.dirname, '../../bin/pgwarden.js');

const clusterOf = useLocalCluster(
  { nodes: 3, scope: 'viz', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 }, journal: true },
  { beforeAll, afterAll, afterEach },
);

let browser: Browser;
let context: BrowserContext;
beforeAll(async () => {
  browser = await launchBrowser();
  context = await browser.newContext({
    viewport: { width: 1600, height: 1000 },
    httpCredentials: { username: REST_AUTH.username, password: REST_AUTH.password },
  });
});
afterAll(async () => {
  await browser?.close();
});

const auth = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;

async function openLive(node: ClusterNode): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${node.apiUrl}/ui`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 15_000 });
  return page;
}

/** What a member's lane shows: leadership, role, and its node machine's state. */
async function lane(
  page: Page,
  name: string,
): Promise<{ leader: boolean; role: string | null; gone: boolean; node: string | null } | null> {
  const el = page.locator(`.lane[data-member="${name}"]`);
  if ((await el.count()) === 0) return null;
  const node = el.locator('[data-actor="node"]');
  return {
    leader: (await el.getAttribute('data-leader')) === 'true',
    role: await el.getAttribute('data-role'),
    gone: (await el.getAttribute('data-gone')) === 'true',
    node: (await node.count()) > 0 ? await node.textContent() : null,
  };
}

/** The node machine's state a member in this role rests in. */
const NODE_STATE: Record<string, string> = {
  master: 'active.running.primary',
  replica: 'active.running.replica',
};

describe('the visualizer, live, on a real cluster', () => {
  let page: Page;

  it('without credentials: 401, as every operator-only route', async () => {
    const res = await fetch(`${clusterOf().nodes[0]!.apiUrl}/ui`);
    expect(res.status).toBe(401);
  });

  it("shows every member's active state as its /patroni reports it", async () => {
    const cluster = clusterOf();
    await cluster.waitUntilReady({ timeoutMs: 60_000 });
    page = await openLive(cluster.nodes[1]!);
    await eventually('three lanes with the node machine', async () => {
      for (const n of cluster.nodes) {
        const l = await lane(page, n.name);
        if (!l?.node?.startsWith('active.running')) throw new Error(`${n.name}: ${JSON.stringify(l)}`);
      }
    });
    for (const n of cluster.nodes) {
      const status = (await cluster.fetchStatus(n))!;
      const role = String(status['role']);
      await eventually(
        `${n.name} as /patroni says`,
        async () => {
          const l = (await lane(page, n.name))!;
          expect(l.node).toBe(NODE_STATE[role]);
          expect(l.leader).toBe((status['pgwarden'] as { is_leader: boolean }).is_leader);
          expect(l.role).toBe(role);
        },
        5_000,
      );
    }
    // The chart marks each member on its state, and the header names the leader and the plan.
    expect(await page.locator('#chart .badge').count()).toBeGreaterThanOrEqual(3);
    await eventually('the failover plan in the header', async () => {
      expect(await page.locator('#plan').textContent()).toMatch(/died now/);
    });
  });

  it('follows a switchover within a second of /patroni', async () => {
    const cluster = clusterOf();
    const leader = cluster.nodes.find((n) => n.status?.role === 'master')!;
    const candidate = cluster.nodes.find((n) => n.name !== leader.name && n.status?.role === 'replica')!;
    const seen: { patroni?: number; page?: number } = {};
    const watchPatroni = (async () => {
      for (let i = 0; i < 400 && seen.patroni === undefined; i++) {
        const s = await cluster.fetchStatus(candidate);
        if (s?.['role'] === 'master' && (s['pgwarden'] as { is_leader?: boolean })?.is_leader)
          seen.patroni = Date.now();
        else await sleep(50);
      }
    })();
    const watchPage = (async () => {
      for (let i = 0; i < 800 && seen.page === undefined; i++) {
        const l = await lane(page, candidate.name);
        if (l?.leader && l.node === NODE_STATE['master']) seen.page = Date.now();
        else await sleep(25);
      }
    })();
    const res = await fetch(`${leader.apiUrl}/switchover`, {
      method: 'POST',
      headers: { authorization: auth },
      body: JSON.stringify({ leader: leader.name, candidate: candidate.name }),
      signal: AbortSignal.timeout(60_000),
    });
    expect(res.status).toBe(200);
    await Promise.all([watchPatroni, watchPage]);
    expect(seen.patroni, '/patroni reported the new leader').toBeDefined();
    expect(seen.page, 'the page showed the new leader').toBeDefined();
    process.stderr.write(
      `visualizer: the page showed the new leader ${seen.page! - seen.patroni!} ms after /patroni\n`,
    );
    expect(seen.page! - seen.patroni!).toBeLessThanOrEqual(1000);
  });

  it('a member whose agent stopped is shown gone, not frozen; back when it returns', async () => {
    const cluster = clusterOf();
    const served = cluster.nodes[1]!;
    await cluster.poll();
    const other = cluster.nodes.find((n) => n.name !== served.name && n.status?.role === 'replica')!;
    await cluster.stopNode(other.name);
    await eventually(
      'the lane is gone',
      async () => {
        expect((await lane(page, other.name))?.gone).toBe(true);
      },
      10_000,
    );
    cluster.startNode(other.name);
    await eventually(
      'the lane is back',
      async () => {
        const l = await lane(page, other.name);
        expect(l?.gone).toBe(false);
        expect(l?.node).toBe(NODE_STATE['replica']);
      },
      60_000,
    );
    await page.close();
  });
});

describe('pgwarden viz: recorded journals', () => {
  let viz: ChildProcess | null = null;
  afterAll(() => {
    viz?.kill('SIGTERM');
  });

  it('replays the journals: the scrubber moves every lane to its state at that time; a transition shows its event and guards', async () => {
    const files = clusterOf().nodes.map((n) => n.journalFile);
    viz = spawn(process.execPath, [BIN, 'viz', '--port', '0', '--journal', ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      viz!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /at (http:\/\/\S+\/ui)/.exec(out);
        if (m) resolve(m[1]!);
      });
      viz!.on('exit', (code) => reject(new Error(`viz exited ${code}: ${out}`)));
    });
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready=true]', { timeout: 15_000 });
    expect(await page.locator('#scrubber').isVisible()).toBe(true);
    // At the end: the states the cluster is in now.
    const end = await lane(page, 'node1');
    expect(end?.node).toMatch(/^active\.running\./);
    // Back to the first transition: every member starting.
    await page.evaluate(
      "const r = document.getElementById('time'); r.value = '0'; r.dispatchEvent(new Event('input'));",
    );
    for (const n of ['node1', 'node2', 'node3']) {
      const l = await lane(page, n);
      // Not started yet at that time (no lane state), or starting.
      expect(l?.node ?? 'starting.(not yet)', n).toMatch(/^starting\./);
    }
    // Step forward until node1 has moved on, then open its latest transition.
    for (let i = 0; i < 200; i++) {
      const l = await lane(page, 'node1');
      if (l?.node?.startsWith('active.')) break;
      await page.click('#next');
    }
    expect((await lane(page, 'node1'))?.node).toMatch(/^active\./);
    await page.locator('.lane[data-member="node1"] .ev').first().click();
    await expect.poll(() => page.locator('#details').isVisible()).toBe(true);
    expect(await page.locator('#details').textContent()).toMatch(/guards asked, in order/);
    await page.close();
  });
});
