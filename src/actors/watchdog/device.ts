/**
 * The runtime's watchdog: one device, opened by the leader and kept alive at each refresh of its
 * lease. What to make of an opening is watchdogVerdict's (src/cluster/watchdog.ts); this applies
 * it, and logs each distinct outcome once (the leader asks again every loop, as Patroni does).
 */
import { accessSync, constants as fsc } from 'node:fs';
import {
  type WatchdogActivation,
  type WatchdogConfig,
  type WatchdogPlan,
  type WatchdogReading,
  watchdogVerdict,
  watchdogWindowMs,
} from '../../cluster/watchdog.ts';
import type { Watchdog } from '../watchdog.ts';
import { LinuxWatchdog, type LinuxWatchdogOptions, TestingWatchdog, type WatchdogDriver } from './drivers.ts';

interface Armed {
  driver: WatchdogDriver;
  device: string;
  kind: WatchdogPlan['driver'];
  /** The timeout asked for, and the one in effect. */
  asked: number;
  loopWait: number;
  timeoutSeconds: number;
}

export interface DeviceWatchdogOptions {
  log: (msg: string) => void;
  /** How a driver is made (tests hand in fakes; default: the section's driver). */
  driverFor?: (plan: WatchdogPlan) => WatchdogDriver;
  /** Whether the device is there and writable (default: checked on the file system). */
  usable?: (config: WatchdogConfig) => boolean;
  linux?: LinuxWatchdogOptions;
}

export class DeviceWatchdog implements Watchdog {
  private armed: Armed | null = null;
  /** The last outcome said, so that a leader asking every loop logs a failure once. */
  private said: string | null = null;
  /**
   * One operation at a time, in the order asked: a close never overtakes an opening still under
   * way (which would leave the device armed with nobody to keep it alive), and a keepalive never
   * lands after the magic close (which would make that close not magic).
   */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: DeviceWatchdogOptions) {}

  usable(config: WatchdogConfig): boolean {
    if (config.mode === 'off') return false;
    if (this.opts.usable) return this.opts.usable(config);
    try {
      accessSync(config.device, fsc.W_OK);
      return true;
    } catch {
      return false;
    }
  }
  armedTimeoutMs(): number | null {
    return this.armed === null ? null : this.armed.timeoutSeconds * 1000;
  }

  setTo(plan: WatchdogPlan, wanted: boolean): Promise<WatchdogActivation> {
    return this.inTurn(() => this.set(plan, wanted));
  }

  keepalive(): Promise<void> {
    return this.inTurn(() => this.keepAlive());
  }

  disarm(): Promise<void> {
    return this.inTurn(() => this.close());
  }

  private inTurn<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  private async set(plan: WatchdogPlan, wanted: boolean): Promise<WatchdogActivation> {
    const before = this.armed;
    if (!wanted) {
      await this.close();
      return this.answer(false, before ? 'watchdog disabled' : null, before !== null);
    }
    if (before && this.matches(before, plan)) return this.answer(false, null, false);
    // Another device, driver, timeout or loop_wait (a reload, a PATCH): closed, then opened anew.
    if (before) await this.close();
    const driver = this.opts.driverFor?.(plan) ?? defaultDriver(plan, this.opts.linux);
    const reading: WatchdogReading = plan.deviceUsable
      ? await driver.open(plan.timeoutSeconds)
      : {
          open: false,
          timeoutSeconds: null,
          description: plan.device,
          error: 'the device does not exist or is not writable',
        };
    const verdict = watchdogVerdict(plan, reading);
    if (reading.open && verdict.close) await driver.close().catch(() => {});
    if (verdict.armed) {
      this.armed = {
        driver,
        device: plan.device,
        kind: plan.driver,
        asked: plan.timeoutSeconds,
        loopWait: plan.loopWaitSeconds,
        timeoutSeconds: verdict.timeoutSeconds!,
      };
    }
    // Opened anew (its countdown restarted), or no longer armed: the election's window follows.
    const changed = this.armed !== null || before !== null;
    return this.answer(verdict.refused, verdict.message, changed);
  }

  private async keepAlive(): Promise<void> {
    try {
      await this.armed?.driver.keepalive();
    } catch (err) {
      this.opts.log(`Error while sending keepalive: ${(err as Error).message}`);
    }
  }

  private async close(): Promise<void> {
    const armed = this.armed;
    if (!armed) return;
    this.armed = null;
    try {
      await armed.driver.close();
    } catch (err) {
      this.opts.log(`Error while disabling watchdog: ${(err as Error).message}`);
    }
  }

  private matches(a: Armed, plan: WatchdogPlan): boolean {
    return (
      a.device === plan.device &&
      a.kind === plan.driver &&
      a.asked === plan.timeoutSeconds &&
      a.loopWait === plan.loopWaitSeconds
    );
  }

  private answer(refused: boolean, message: string | null, changed: boolean): WatchdogActivation {
    const fresh = message !== null && message !== this.said;
    if (message !== null) this.said = message;
    const a = this.armed;
    return {
      armed: a !== null,
      timeoutSeconds: a?.timeoutSeconds ?? null,
      windowMs: a ? watchdogWindowMs(a.timeoutSeconds, a.loopWait) : null,
      refused,
      changed,
      message: fresh ? message : null,
    };
  }
}

function defaultDriver(plan: WatchdogPlan, linux?: LinuxWatchdogOptions): WatchdogDriver {
  return plan.driver === 'testing' ? new TestingWatchdog(plan.device) : new LinuxWatchdog(plan.device, linux);
}
