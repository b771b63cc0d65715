import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.ts';
import { runSim, type SimOptions } from '../../src/cli/sim-command.ts';

const base: SimOptions = { seed: '1', nodes: '3', steps: '12', seeds: '4', stepMs: '5000', ttl: '30' };

/** Everything runSim prints but the timing line (which says how long it took). */
async function lines(opts: SimOptions): Promise<{ code: number; lines: string[] }> {
  const out: string[] = [];
  const code = await runSim(opts, (l) => out.push(l));
  return { code, lines: out.filter((l) => !/ seeds ok in /.test(l)) };
}

describe('pgwarden sim --jobs', () => {
  it('worker threads print the same lines, in seed order, as one thread', async () => {
    const one = await lines({ ...base, jobs: '1' });
    const two = await lines({ ...base, jobs: '2' });
    expect(one.lines.filter((l) => l.startsWith('seed '))).toHaveLength(4);
    expect(two).toEqual(one);
  });

  it('merges what the workers covered: --coverage says the same', async () => {
    const one = await lines({ ...base, seeds: '3', coverage: true, jobs: '1' });
    const two = await lines({ ...base, seeds: '3', coverage: true, jobs: '3' });
    expect(two).toEqual(one);
  });

  it.each(['0', 'x', '1.5', '-2'])('refuses --jobs %s (exit code 2)', async (jobs) => {
    const err = await runSim({ ...base, jobs }, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toBe('--jobs must be an integer ≥ 1');
  });
});

describe('pgwarden sim --schedule', () => {
  it('plays the given schedule and prints a replay command that carries it', async () => {
    const r = await lines({ ...base, seeds: '1', schedule: '2:kill:node1,4:restart:node1' });
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([expect.stringMatching(/^seed 1: ok faults=2 requests=0 /)]);
  });

  it.each([
    ['3:explode:node1', '--schedule: schedule entry "3:explode:node1": unknown action "explode"'],
    [
      '3:kill:node7',
      '--schedule: schedule entry "3:kill:node7": node "node7" is not one of node1, node2, node3',
    ],
  ])('refuses a bad schedule %s (exit code 2)', async (schedule, message) => {
    const err = await runSim({ ...base, schedule }, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toBe(message);
  });
});

describe('pgwarden sim on a closed pipe', () => {
  it('stops quietly when the reader goes away (| head)', () => {
    const r = spawnSync(
      'bash',
      ['-c', 'node bin/pgwarden.js sim --seeds 40 --jobs 1 | head -1; echo "status=$PIPESTATUS"'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.stdout).toMatch(/^seed 1: ok /);
    expect(r.stdout).toContain('status=0');
    expect(r.stderr).toBe('');
  });
});
