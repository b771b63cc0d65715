/**
 * Patroni's watchdog: the rules (src/cluster/watchdog.ts), the YAML section, the runtime device
 * (DeviceWatchdog) on fake drivers, and both drivers on real files: Patroni's `testing` protocol
 * on a named pipe, and the Linux driver on a stand-in device with a stand-in sysfs.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceWatchdog } from '../../src/actors/watchdog/device.ts';
import type { WatchdogDriver } from '../../src/actors/watchdog/drivers.ts';
import { LinuxWatchdog, TestingWatchdog } from '../../src/actors/watchdog/drivers.ts';
import {
  parseWatchdogMode,
  type WatchdogPlan,
  watchdogFailed,
  watchdogTimeoutSeconds,
  watchdogVerdict,
  watchdogWindowMs,
} from '../../src/cluster/watchdog.ts';
import { ConfigError, parseConfigText } from '../../src/config/load.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';

const plan: WatchdogPlan = {
  mode: 'automatic',
  device: '/dev/watchdog',
  driver: 'default',
  timeoutSeconds: 25,
  loopWaitSeconds: 10,
  deviceUsable: true,
};
const opened = (timeoutSeconds: number | null) => ({
  open: true,
  timeoutSeconds,
  description: 'dev',
  error: null,
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pgwarden-watchdog-'));
  dirs.push(d);
  return d;
};

describe('watchdog rules', () => {
  it("reads Patroni's spellings of the mode", () => {
    expect(parseWatchdogMode('required')).toBe('required');
    expect(parseWatchdogMode('Require')).toBe('required');
    expect(parseWatchdogMode('auto')).toBe('automatic');
    expect(parseWatchdogMode('disabled')).toBe('off');
    expect(parseWatchdogMode(false)).toBe('off');
    expect(parseWatchdogMode('sometimes')).toBeNull();
  });

  it('asks the device for ttl less the safety margin, or half the ttl with -1', () => {
    expect(watchdogTimeoutSeconds(30, 5)).toBe(25);
    expect(watchdogTimeoutSeconds(30, -1)).toBe(15);
  });

  it('arms a device that fires when asked; warns of a later one in automatic mode, refuses it when required', () => {
    expect(watchdogVerdict(plan, opened(25))).toMatchObject({
      armed: true,
      timeoutSeconds: 25,
      close: false,
    });
    const later = watchdogVerdict(plan, opened(60));
    expect(later).toMatchObject({ armed: true, timeoutSeconds: 60, refused: false });
    expect(later.message).toContain('does not ensure safe termination within 25 s');
    expect(watchdogVerdict({ ...plan, mode: 'required' }, opened(60))).toMatchObject({
      armed: false,
      close: true,
      refused: true,
    });
  });

  it('never arms one whose timeout is unknown, or leaves no window to trust the lock in', () => {
    expect(watchdogVerdict(plan, opened(null))).toMatchObject({ armed: false, close: true, refused: false });
    // 6 s less the 5 s reserve to stop PostgreSQL: 1 s.
    expect(watchdogVerdict(plan, opened(6))).toMatchObject({ armed: false, close: true });
    expect(watchdogVerdict({ ...plan, timeoutSeconds: 6 }, opened(6)).message).toContain(
      'leaves less than 2 s to trust the lock between keepalives',
    );
  });

  it('the window: the timeout less a loop_wait, at most 5 s, to stop PostgreSQL before it fires', () => {
    expect(watchdogWindowMs(25, 10)).toBe(20_000);
    expect(watchdogWindowMs(15, 2)).toBe(13_000);
  });

  it('a device that would not open: automatic goes on without, required refuses in Patroni’s words', () => {
    const none = { open: false, timeoutSeconds: null, description: 'dev', error: 'ENOENT' };
    expect(watchdogVerdict(plan, none)).toMatchObject({ armed: false, refused: false, close: false });
    const required = watchdogVerdict({ ...plan, mode: 'required' }, none);
    expect(required.refused).toBe(true);
    expect(required.message).toMatch(/^Configuration requires watchdog, but watchdog could not be activated/);
  });

  it('watchdog_failed only when required and the device is unusable (or its timing cannot work)', () => {
    expect(watchdogFailed(plan)).toBe(false);
    expect(watchdogFailed({ ...plan, deviceUsable: false })).toBe(false);
    expect(watchdogFailed({ ...plan, mode: 'required', deviceUsable: false })).toBe(true);
    expect(watchdogFailed({ ...plan, mode: 'required', timeoutSeconds: 6 })).toBe(true);
    expect(watchdogFailed({ ...plan, mode: 'required' })).toBe(false);
    expect(watchdogFailed(undefined)).toBe(false);
  });
});

describe('the watchdog section of the YAML', () => {
  const load = (section: string) => parseConfigText(`${MINIMAL_CONFIG}\n${section}`).watchdog;

  it("defaults to Patroni's: automatic, /dev/watchdog, a 5 s margin", () => {
    expect(load('')).toEqual({
      mode: 'automatic',
      device: '/dev/watchdog',
      safety_margin: 5,
      driver: 'default',
    });
  });

  it('takes every key, and YAML’s off', () => {
    expect(
      load('watchdog: {mode: require, device: /dev/watchdog1, safety_margin: -1, driver: testing}'),
    ).toEqual({
      mode: 'required',
      device: '/dev/watchdog1',
      safety_margin: -1,
      driver: 'testing',
    });
    expect(load('watchdog: {mode: off}').mode).toBe('off');
  });

  it('bad values are errors that name the key', () => {
    for (const [section, key] of [
      ['watchdog: {mode: sometimes}', 'watchdog.mode'],
      ['watchdog: {driver: softdog}', 'watchdog.driver'],
      ['watchdog: {safety_margin: -2}', 'watchdog.safety_margin'],
      ['watchdog: {safety_margin: five}', 'watchdog.safety_margin'],
      ["watchdog: {device: ''}", 'watchdog.device'],
    ] as const) {
      let err: unknown = null;
      try {
        load(section);
      } catch (e) {
        err = e;
      }
      expect(err, section).toBeInstanceOf(ConfigError);
      expect(String((err as Error).message), section).toContain(key);
    }
  });
});

/** A driver that records what was done to it. */
function fakeDriver(reading = opened(25)) {
  const ops: string[] = [];
  const driver: WatchdogDriver = {
    open: async (t) => {
      ops.push(`open ${t}`);
      // A device that takes the timeout it is given.
      return { ...reading, timeoutSeconds: reading.open ? t : null };
    },
    keepalive: async () => {
      ops.push('keepalive');
    },
    close: async () => {
      ops.push('close');
    },
  };
  return { ops, driver };
}

describe('DeviceWatchdog', () => {
  it('opens once, keeps it alive, says so once, and closes it the magic way', async () => {
    const { ops, driver } = fakeDriver();
    const logs: string[] = [];
    const w = new DeviceWatchdog({ log: (m) => logs.push(m), driverFor: () => driver });
    await w.keepalive(); // nothing armed: nothing written
    const first = await w.setTo(plan, true);
    expect(first).toMatchObject({ armed: true, timeoutSeconds: 25, windowMs: 20_000, changed: true });
    expect(first.message).toContain(
      'activated with 25 second timeout, the lock trusted 20 seconds after each keepalive',
    );
    expect(await w.setTo(plan, true)).toMatchObject({ armed: true, changed: false, message: null });
    await w.keepalive();
    expect(await w.setTo(plan, false)).toMatchObject({ armed: false, changed: true });
    expect(ops).toEqual(['open 25', 'keepalive', 'close']);
    expect(logs).toEqual([]);
  });

  it('a new timeout (a PATCH of ttl) closes and opens again; a failure is said once, not every loop', async () => {
    const { ops, driver } = fakeDriver();
    const w = new DeviceWatchdog({ log: () => {}, driverFor: () => driver });
    await w.setTo(plan, true);
    expect(await w.setTo({ ...plan, timeoutSeconds: 20 }, true)).toMatchObject({
      changed: true,
      timeoutSeconds: 20,
    });
    expect(ops).toEqual(['open 25', 'close', 'open 20']);

    const broken = fakeDriver({
      open: false,
      timeoutSeconds: null,
      description: 'dev',
      error: 'EACCES',
    } as never);
    const w2 = new DeviceWatchdog({ log: () => {}, driverFor: () => broken.driver });
    const a = await w2.setTo(plan, true);
    expect(a.message).toContain('EACCES');
    expect((await w2.setTo(plan, true)).message).toBeNull();
  });

  it('one operation at a time: a close asked during a slow opening closes what it opened; no keepalive after the close', async () => {
    const ops: string[] = [];
    let release = () => {};
    const slow: WatchdogDriver = {
      open: async (t) => {
        ops.push('open begins');
        await new Promise<void>((r) => {
          release = r;
        });
        ops.push('open ends');
        return opened(t);
      },
      keepalive: async () => {
        ops.push('keepalive');
      },
      close: async () => {
        ops.push('close');
      },
    };
    const w = new DeviceWatchdog({ log: () => {}, driverFor: () => slow });
    const arming = w.setTo(plan, true);
    await Promise.resolve();
    const keeping = w.keepalive();
    const closing = w.disarm();
    release();
    await Promise.all([arming, keeping, closing]);
    expect(ops).toEqual(['open begins', 'open ends', 'keepalive', 'close']);
    expect((await w.setTo(plan, false)).armed).toBe(false);
  });

  it('a device the configuration check found missing is not even opened', async () => {
    const { ops, driver } = fakeDriver();
    const w = new DeviceWatchdog({ log: () => {}, driverFor: () => driver });
    const r = await w.setTo({ ...plan, deviceUsable: false, mode: 'required' }, true);
    expect(r).toMatchObject({ armed: false, refused: true });
    expect(ops).toEqual([]);
  });

  it('usable: exists and writable, never with mode off', () => {
    const dir = tempDir();
    const dev = join(dir, 'watchdog');
    writeFileSync(dev, '');
    const w = new DeviceWatchdog({ log: () => {} });
    expect(w.usable({ mode: 'automatic', device: dev, safety_margin: 5, driver: 'default' })).toBe(true);
    expect(w.usable({ mode: 'off', device: dev, safety_margin: 5, driver: 'default' })).toBe(false);
    expect(
      w.usable({ mode: 'automatic', device: join(dir, 'none'), safety_margin: 5, driver: 'default' }),
    ).toBe(false);
  });
});

describe('the drivers on real files', () => {
  it("testing: Patroni's protocol on a named pipe — Ctimeout=N, then 1 per keepalive, V on close", async () => {
    const dir = tempDir();
    const fifo = join(dir, 'wd.fifo');
    execFileSync('mkfifo', [fifo]);
    // Nobody reads: the open fails at once with a clear error, rather than hanging.
    const alone = await new TestingWatchdog(fifo).open(25);
    expect(alone.open).toBe(false);
    expect(alone.error).toMatch(/ENXIO/);
    // A reader (opened non-blocking, as a harness would keep it open) stands in for the device.
    const reader = openSync(fifo, 'r+');
    try {
      const d = new TestingWatchdog(fifo);
      expect(await d.open(25)).toMatchObject({ open: true, timeoutSeconds: 25 });
      await d.keepalive();
      await d.keepalive();
      await d.close();
      const buf = Buffer.alloc(64);
      const n = readSync(reader, buf, 0, 64, null);
      expect(buf.subarray(0, n).toString()).toBe('Ctimeout=25\n11V');
    } finally {
      closeSync(reader);
    }
  });

  it('default: writes 1 and V to the device; the timeout comes from sysfs (set by wdctl first)', async () => {
    const dir = tempDir();
    const dev = join(dir, 'watchdog');
    writeFileSync(dev, '');
    const sysfs = join(dir, 'sys');
    mkdirSync(join(sysfs, 'watchdog0'), { recursive: true });
    writeFileSync(join(sysfs, 'watchdog0', 'timeout'), '25\n');
    const asked: Array<[string, number]> = [];
    const d = new LinuxWatchdog(dev, { sysfs, setTimeout: async (p, s) => void asked.push([p, s]) });
    expect(await d.open(25)).toMatchObject({ open: true, timeoutSeconds: 25, error: null });
    await d.keepalive();
    await d.close();
    expect(asked).toEqual([[dev, 25]]);
    expect(readFileSync(dev, 'utf8')).toBe('1V');
    // No sysfs entry: open, but its timeout unknown (the verdict closes it).
    const unknown = new LinuxWatchdog(join(dir, 'watchdog'), {
      sysfs: join(dir, 'nowhere'),
      setTimeout: async () => {
        throw new Error('wdctl: cannot set timeout');
      },
    });
    const r = await unknown.open(25);
    expect(r).toMatchObject({ open: true, timeoutSeconds: null });
    expect(r.error).toContain('cannot set timeout');
    await unknown.close();
  });
});
