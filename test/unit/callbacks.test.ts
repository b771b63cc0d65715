/**
 * Patroni's user callbacks: the command line split as Python's shlex.split does, the
 * `postgresql.callbacks` section read strictly, and the runner on real processes — arguments
 * `<action> <role> <scope>`, one at a time (a slow one is killed with its children when the next
 * starts), on_reload in a slot of its own, nothing waited for.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../src/config/command-line.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { NodeConfig } from '../../src/config/types.ts';
import { CallbackRunner, runPrePromote } from '../../src/runtime/callbacks.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';

describe('splitCommandLine (shlex.split)', () => {
  it('words, quotes and escapes as POSIX shlex splits them', () => {
    expect(splitCommandLine('/opt/vip/vip.sh  --dev eth0 ')).toEqual(['/opt/vip/vip.sh', '--dev', 'eth0']);
    expect(splitCommandLine(`a 'b c' "d \\"e\\" \\x" f\\ g ''`)).toEqual([
      'a',
      'b c',
      'd "e" \\x',
      'f g',
      '',
    ]);
    expect(splitCommandLine(`x'y'"z"`)).toEqual(['xyz']);
    expect(() => splitCommandLine(`a 'b`)).toThrow('no closing quotation');
    expect(() => splitCommandLine('a "b')).toThrow('no closing quotation');
    expect(() => splitCommandLine('a \\')).toThrow('no escaped character');
  });
});

describe('postgresql.callbacks in the configuration', () => {
  const withCallbacks = (yaml: string) =>
    parseConfigText(MINIMAL_CONFIG.replace('  data_dir: /d\n', `  data_dir: /d\n  callbacks:\n${yaml}`));

  it('a command per action Patroni knows', () => {
    const c = withCallbacks(
      "    on_role_change: '/opt/vip/vip.sh eth0'\n    on_start: /opt/s\n    on_stop: ''\n",
    );
    expect(c.postgresql.callbacks).toEqual({ on_role_change: '/opt/vip/vip.sh eth0', on_start: '/opt/s' });
  });

  it('pre_promote: a command line, checked as the callbacks are', () => {
    const yaml = (v: string) =>
      parseConfigText(MINIMAL_CONFIG.replace('  data_dir: /d\n', `  data_dir: /d\n  pre_promote: ${v}\n`));
    expect(yaml("'/opt/fence --now'").postgresql.pre_promote).toBe('/opt/fence --now');
    expect(() => yaml(`"/opt/fence 'x"`)).toThrow(/postgresql\.pre_promote: no closing quotation/);
  });

  it('an unknown action or a command that cannot be split: the key named', () => {
    expect(() => withCallbacks('    on_promote: /opt/x\n')).toThrow(
      /postgresql\.callbacks\.on_promote: not a callback/,
    );
    expect(() => withCallbacks(`    on_stop: "/opt/x 'a"\n`)).toThrow(
      /postgresql\.callbacks\.on_stop: no closing quotation/,
    );
  });
});

describe('CallbackRunner on real processes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) {
      // Whatever a failed test left running: the scripts' and their children's PIDs, by file.
      const file = join(d, 'pids');
      if (existsSync(file))
        for (const pid of readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number))
          if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(d, { recursive: true, force: true });
    }
  });

  function setup(callbacks: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-cb-'));
    dirs.push(dir);
    const logs: string[] = [];
    const config = { scope: 'demo', postgresql: { callbacks } } as unknown as NodeConfig;
    return { dir, logs, runner: new CallbackRunner({ config: () => config, log: (m) => logs.push(m) }) };
  }

  function script(dir: string, name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  const until = async (what: string, cond: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('runs <command> <action> <role> <scope>, and waits for nothing', async () => {
    const { dir } = setup({});
    const out = join(dir, 'args');
    const cmd = script(dir, 'cb.sh', `echo "$@" > ${out}`);
    const { runner: callbacks } = setup({ on_role_change: `${cmd} --extra 'two words'` });
    const started = Date.now();
    callbacks.run('on_role_change', 'master');
    expect(Date.now() - started).toBeLessThan(200);
    await until('the callback ran', () => existsSync(out) && readFileSync(out, 'utf8').length > 0);
    expect(readFileSync(out, 'utf8')).toBe('--extra two words on_role_change master demo\n');
  });

  it('one at a time: a callback still running when the next is due is killed with its children', async () => {
    const { dir } = setup({});
    const pids = join(dir, 'pids');
    // The slow one starts a child of its own (as a VIP script's arping would), then waits.
    const slow = script(dir, 'slow.sh', `sleep 60 & echo $$ $! >> ${pids}; wait`);
    const fast = script(dir, 'fast.sh', `echo "$1" > ${join(dir, 'fast')}`);
    const commands: Record<string, string> = { on_start: slow, on_role_change: fast, on_reload: slow };
    const callbacks = new CallbackRunner({
      config: () => ({ scope: 'demo', postgresql: { callbacks: commands } }) as unknown as NodeConfig,
      log: () => {},
    });
    callbacks.run('on_start', 'replica');
    await until('the slow callback started its child', () => existsSync(pids));
    const [script1, child1] = readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number);
    // on_reload has a slot of its own: it does not end on_start.
    callbacks.run('on_reload', 'replica');
    await until('on_reload started', () => readFileSync(pids, 'utf8').trim().split('\n').length === 2);
    expect(alive(script1!)).toBe(true);
    callbacks.run('on_role_change', 'master');
    await until('the slow callback and its child are gone', () => !alive(script1!) && !alive(child1!));
    await until('the next one ran', () => existsSync(join(dir, 'fast')));
    expect(readFileSync(join(dir, 'fast'), 'utf8')).toBe('on_role_change\n');
    // The on_reload one is still there; a second on_reload ends it.
    const [script2, child2] = readFileSync(pids, 'utf8').trim().split('\n')[1]!.split(/\s+/).map(Number);
    expect(alive(script2!)).toBe(true);
    commands['on_reload'] = fast;
    callbacks.run('on_reload', 'master');
    await until('the first on_reload is gone', () => !alive(script2!) && !alive(child2!));
  });

  it('a command that cannot start is logged, and nothing throws', async () => {
    const { logs, runner: callbacks } = setup({ on_stop: '/nonexistent/cb.sh' });
    callbacks.run('on_stop', 'replica');
    await until('logged', () => logs.some((l) => l.includes('on_stop callback failed to start')));
    // No command for an action: nothing runs, nothing is said.
    const before = logs.length;
    callbacks.run('on_start', 'replica');
    expect(logs.length).toBe(before);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (killed, not yet reaped by its parent) counts as gone.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('runPrePromote on real processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-prepromote-'));
  afterAll(() => {
    const pids = join(dir, 'pids');
    if (existsSync(pids)) {
      const pid = Number(readFileSync(pids, 'utf8').trim());
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it('none configured: null; otherwise its exit code, waited for', async () => {
    expect(await runPrePromote(undefined, 5, () => {})).toBeNull();
    const ok = script('ok.sh', 'exit 0');
    const no = script('no.sh', 'exit 3');
    expect(await runPrePromote(ok, 5, () => {})).toEqual({ command: ok, exitCode: 0 });
    expect(await runPrePromote(`${no} --flag`, 5, () => {})).toEqual({
      command: `${no} --flag`,
      exitCode: 3,
    });
  });

  it('one that cannot run, or runs past its deadline (killed with its children): no exit code', async () => {
    const logs: string[] = [];
    expect(await runPrePromote('/nonexistent/fence.sh', 5, (m) => logs.push(m))).toEqual({
      command: '/nonexistent/fence.sh',
      exitCode: null,
    });
    const pids = join(dir, 'pids');
    const slow = script('slow.sh', `sleep 60 & echo $! > ${pids}; wait`);
    const started = Date.now();
    expect((await runPrePromote(slow, 1, (m) => logs.push(m)))?.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    const child = Number(readFileSync(pids, 'utf8').trim());
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(child)).toBe(false);
    expect(logs.some((l) => l.includes('still running after 1 s: killed'))).toBe(true);
  });
});
