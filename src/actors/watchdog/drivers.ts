/**
 * The two drivers of Patroni's watchdog section. Both open the device for writing, keep it alive
 * by writing `1` and close it with the magic character `V`, which stops the countdown.
 *
 * - `default`: a Linux watchdog device. Node has no ioctl, so the timeout is set before the
 *   device is opened, by `wdctl --settimeout` (util-linux), and read back from sysfs
 *   (/sys/class/watchdog/<dev>/timeout); a timeout that cannot be read is not trusted.
 * - `testing`: Patroni's test harness protocol on a named pipe: the timeout is written as a
 *   line `Ctimeout=N`, so that a reader stands in for the device (and can act as it would).
 */
import { execFile } from 'node:child_process';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import type { WatchdogReading } from '../../cluster/watchdog.ts';

export interface WatchdogDriver {
  /** Opens the device with this timeout (the reading says what came of it; never throws). */
  open(timeoutSeconds: number): Promise<WatchdogReading>;
  keepalive(): Promise<void>;
  /** Magic close: the countdown stops. */
  close(): Promise<void>;
}

const KEEPALIVE = Buffer.from('1');
const MAGIC_CLOSE = Buffer.from('V');

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

abstract class DeviceFile implements WatchdogDriver {
  protected fh: fs.FileHandle | null = null;

  constructor(protected readonly device: string) {}

  abstract open(timeoutSeconds: number): Promise<WatchdogReading>;

  async keepalive(): Promise<void> {
    if (this.fh) await this.fh.write(KEEPALIVE);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = null;
    try {
      await fh.write(MAGIC_CLOSE);
    } finally {
      await fh.close();
    }
  }

  protected closed(description: string, error: string): WatchdogReading {
    return { open: false, timeoutSeconds: null, description, error };
  }
}

/** Where sysfs says a device's timeout is, and how wdctl is run (tests give their own). */
export interface LinuxWatchdogOptions {
  sysfs?: string;
  setTimeout?: (device: string, seconds: number) => Promise<void>;
}

function wdctlSetTimeout(device: string, seconds: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('wdctl', ['--settimeout', String(seconds), device], { timeout: 3000 }, (err, _out, stderr) =>
      err ? reject(new Error(stderr.trim() || err.message)) : resolve(),
    );
  });
}

/** Patroni's LinuxWatchdogDevice, without ioctl (see the file's comment). */
export class LinuxWatchdog extends DeviceFile {
  private readonly sysfs: string;
  private readonly setTimeout: (device: string, seconds: number) => Promise<void>;

  constructor(device: string, opts: LinuxWatchdogOptions = {}) {
    super(device);
    this.sysfs = opts.sysfs ?? '/sys/class/watchdog';
    this.setTimeout = opts.setTimeout ?? wdctlSetTimeout;
  }

  private get description(): string {
    return this.device === '/dev/watchdog'
      ? 'Linux watchdog device'
      : `Linux watchdog device at ${this.device}`;
  }

  async open(timeoutSeconds: number): Promise<WatchdogReading> {
    // Before opening: a device open elsewhere (ours included) refuses a second opener.
    let note: string | null = null;
    try {
      await this.setTimeout(this.device, timeoutSeconds);
    } catch (err) {
      note = `its timeout could not be set (${errorText(err)})`;
    }
    try {
      this.fh = await fs.open(this.device, fsc.O_WRONLY);
    } catch (err) {
      return this.closed(this.description, `Can't open watchdog device: ${errorText(err)}`);
    }
    const timeout = await this.readTimeout();
    return {
      open: true,
      timeoutSeconds: timeout,
      description: this.description,
      error: timeout === null ? (note ?? 'its timeout could not be read from sysfs') : null,
    };
  }

  /** sysfs names devices watchdogN; the legacy /dev/watchdog (misc 10:130) is watchdog0. */
  private async readTimeout(): Promise<number | null> {
    const base = path.basename(this.device);
    const name = /^watchdog\d+$/.test(base) ? base : base === 'watchdog' ? 'watchdog0' : null;
    if (name === null) return null;
    try {
      const n = Number((await fs.readFile(path.join(this.sysfs, name, 'timeout'), 'utf8')).trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  }
}

/** Patroni's TestingWatchdogDevice: a named pipe with a reader that plays the device. */
export class TestingWatchdog extends DeviceFile {
  private get description(): string {
    return `Watchdog test harness at ${this.device}`;
  }

  async open(timeoutSeconds: number): Promise<WatchdogReading> {
    try {
      // Non-blocking: with nobody reading the pipe the open fails (ENXIO) rather than hang.
      this.fh = await fs.open(this.device, fsc.O_WRONLY | fsc.O_NONBLOCK);
      await this.fh.write(Buffer.from(`Ctimeout=${timeoutSeconds}\n`));
    } catch (err) {
      await this.fh?.close().catch(() => {});
      this.fh = null;
      return this.closed(this.description, `Can't open watchdog device: ${errorText(err)}`);
    }
    return { open: true, timeoutSeconds, description: this.description, error: null };
  }
}
