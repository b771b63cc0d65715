/**
 * Patroni's `watchdog` (rules; the device is src/actors/watchdog/, the decisions the node and
 * election machines). A hardware (or kernel) watchdog resets the host unless it is kept alive:
 * the leader keeps it alive at each refresh of its lease, so a leader whose agent died or froze
 * is reset — its PostgreSQL with it — before another node may be promoted.
 *
 * Patroni's semantics: mode `automatic` by default (a watchdog is used when one can be opened),
 * `required` (no leadership without one: the member reports `watchdog_failed` and never races),
 * `off`; timeout `ttl − safety_margin` (safety_margin −1: `ttl / 2`); activated before a
 * promotion; disabled once PostgreSQL is stopped after a demotion, when paused, at shutdown.
 *
 * pgwarden's difference: Patroni demotes within loop_wait + retry_timeout of its last good
 * update, well inside its watchdog's timeout. pgwarden trusts its lock for up to ttl less a
 * margin after a refresh, longer than the watchdog's timeout: kept as it is, an etcd outage would
 * let the watchdog reset a healthy leader before it demoted itself. So while a watchdog is armed,
 * the lock is trusted for at most `timeout − min(loop_wait, 5 s)` after the last keepalive
 * (watchdogWindowMs), leaving that long to stop PostgreSQL (immediately) and close the device
 * before it fires.
 */

export type WatchdogMode = 'off' | 'automatic' | 'required';
export type WatchdogDriver = 'default' | 'testing';

/** The `watchdog` section as configured (Patroni's keys). */
export interface WatchdogConfig {
  mode: WatchdogMode;
  /** Default /dev/watchdog; with `driver: testing`, a named pipe. */
  device: string;
  /** Seconds between the watchdog firing and the leader key expiring (default 5; −1: ttl / 2). */
  safety_margin: number;
  driver: WatchdogDriver;
}

export const DEFAULT_WATCHDOG: WatchdogConfig = Object.freeze({
  mode: 'automatic',
  device: '/dev/watchdog',
  safety_margin: 5,
  driver: 'default',
}) as WatchdogConfig;

/** Patroni's spellings: `require`, `auto`, `disable(d)` too; YAML 1.1's `off` is false. */
export function parseWatchdogMode(raw: unknown): WatchdogMode | null {
  if (raw === false) return 'off';
  if (typeof raw !== 'string') return null;
  const mode = raw.toLowerCase();
  if (mode === 'required' || mode === 'require') return 'required';
  if (mode === 'automatic' || mode === 'auto') return 'automatic';
  if (mode === 'off' || mode === 'disable' || mode === 'disabled') return 'off';
  return null;
}

/** The timeout the device is given, in seconds (Patroni's WatchdogConfig.timeout). */
export function watchdogTimeoutSeconds(ttl: number, safetyMargin: number): number {
  return safetyMargin === -1 ? Math.floor(ttl / 2) : ttl - safetyMargin;
}

/**
 * What the node's settings carry: the section, the timeout it asks of the device, and whether
 * the device looked usable (present and writable) when the configuration was last read.
 */
export interface WatchdogPlan {
  mode: WatchdogMode;
  device: string;
  driver: WatchdogDriver;
  timeoutSeconds: number;
  loopWaitSeconds: number;
  deviceUsable: boolean;
}

/** At least this much of the timeout must be left after the stop reserve, or the lock could not be trusted between refreshes. */
export const MIN_WATCHDOG_WINDOW_MS = 2000;

/** The most a demotion is given to stop PostgreSQL (immediately) and close the device before it fires. */
export const WATCHDOG_STOP_RESERVE_MS = 5000;

/**
 * ms the lock may be trusted after a keepalive of a watchdog of `timeoutSeconds`: it fires a
 * reserve later — a loop_wait, at most 5 s — the time to stop PostgreSQL and close the device.
 */
export function watchdogWindowMs(timeoutSeconds: number, loopWaitSeconds: number): number {
  return timeoutSeconds * 1000 - Math.min(loopWaitSeconds * 1000, WATCHDOG_STOP_RESERVE_MS);
}

/** Why a watchdog of this timeout cannot be used with this loop_wait, null when it can. */
export function unusableTimeout(timeoutSeconds: number, loopWaitSeconds: number): string | null {
  if (watchdogWindowMs(timeoutSeconds, loopWaitSeconds) >= MIN_WATCHDOG_WINDOW_MS) return null;
  return `watchdog timeout ${timeoutSeconds} s leaves less than ${MIN_WATCHDOG_WINDOW_MS / 1000} s to trust the lock between keepalives (loop_wait ${loopWaitSeconds} s)`;
}

/**
 * Patroni's `watchdog_failed` (Watchdog.is_healthy false): the watchdog is required and the
 * device is missing or not writable, or its timeout cannot work with loop_wait. Such a member
 * never races for the lock, and the others do not count it as a failover candidate.
 */
export function watchdogFailed(plan: WatchdogPlan | undefined): boolean {
  if (plan?.mode !== 'required') return false;
  return !plan.deviceUsable || unusableTimeout(plan.timeoutSeconds, plan.loopWaitSeconds) !== null;
}

/** What opening the device found (src/actors/watchdog/). */
export interface WatchdogReading {
  /** The device is open (and so counting down). */
  open: boolean;
  /** Its timeout in effect, seconds (null: unknown — the timeout could not be read). */
  timeoutSeconds: number | null;
  /** Human-readable name, for the log. */
  description: string;
  /** Why it could not be opened or configured, if so. */
  error: string | null;
}

/** What to make of an activation (Patroni's Watchdog._activate), decided from the reading. */
export interface WatchdogVerdict {
  /** Keep the device open and keep it alive from now on. */
  armed: boolean;
  /** Seconds it fires after a keepalive, when armed. */
  timeoutSeconds: number | null;
  /** The device was opened but must not be used: close it (magic close) now. */
  close: boolean;
  /** `required` and no safe watchdog: no leadership (the lock goes back, or the leader demotes). */
  refused: boolean;
  /** One line for the log. */
  message: string;
}

/**
 * Armed only with a known timeout that leaves a window (watchdogWindowMs; a shorter one would reset
 * a healthy leader between refreshes). A timeout longer than asked fires after the lease is gone
 * (another node may be promoted first): `required` refuses it, `automatic` uses it and says so, as
 * Patroni does. The lock's trust follows the timeout in effect, so a longer one costs nothing.
 */
export function watchdogVerdict(plan: WatchdogPlan, reading: WatchdogReading): WatchdogVerdict {
  const name = reading.description;
  const refuse = plan.mode === 'required';
  const without = (why: string, close: boolean): WatchdogVerdict => ({
    armed: false,
    timeoutSeconds: null,
    close,
    refused: refuse,
    message: refuse
      ? `Configuration requires watchdog, but watchdog could not be activated: ${why}`
      : `watchdog not used: ${why}`,
  });
  const planned = unusableTimeout(plan.timeoutSeconds, plan.loopWaitSeconds);
  if (planned !== null) return without(planned, reading.open);
  if (!reading.open) return without(`could not activate ${name}: ${reading.error ?? 'not opened'}`, false);
  const actual = reading.timeoutSeconds;
  if (actual === null) return without(`${name}: its timeout could not be read`, true);
  const short = unusableTimeout(actual, plan.loopWaitSeconds);
  if (short !== null) return without(`${name}: ${short}`, true);
  const activated = `${name} activated with ${actual} second timeout, the lock trusted ${watchdogWindowMs(actual, plan.loopWaitSeconds) / 1000} seconds after each keepalive`;
  if (actual > plan.timeoutSeconds) {
    const late = `${name} has a ${actual} s timeout, which does not ensure safe termination within ${plan.timeoutSeconds} s`;
    // As Patroni: required wants the guarantee; automatic uses it and says what it lacks.
    if (refuse) return without(late, true);
    return {
      armed: true,
      timeoutSeconds: actual,
      close: false,
      refused: false,
      message: `${activated}; ${late}`,
    };
  }
  return { armed: true, timeoutSeconds: actual, close: false, refused: false, message: activated };
}

/** What the node machine's watchdog step answers (the actor applies the verdict: closes the device when told). */
export interface WatchdogActivation {
  armed: boolean;
  timeoutSeconds: number | null;
  /** When armed: how long after a keepalive the lock may be trusted (watchdogWindowMs, with the loop_wait it was armed for). */
  windowMs: number | null;
  refused: boolean;
  /** Armed or disarmed, or the timeout changed, by this step: the election's trust must follow. */
  changed: boolean;
  /** A line for the log when something changed or went wrong (null: nothing new to say). */
  message: string | null;
}

/** Whether the leader wants its watchdog armed now: not off, and not paused (Patroni disables it then). */
export function watchdogWanted(plan: WatchdogPlan | undefined, paused: boolean): boolean {
  return plan !== undefined && plan.mode !== 'off' && !paused;
}

/** The plan the node's settings carry, from the section, the dynamic timing and the device check. */
export function watchdogPlanOf(
  config: WatchdogConfig,
  ttl: number,
  loopWait: number,
  deviceUsable: boolean,
): WatchdogPlan {
  return {
    mode: config.mode,
    device: config.device,
    driver: config.driver,
    timeoutSeconds: watchdogTimeoutSeconds(ttl, config.safety_margin),
    loopWaitSeconds: loopWait,
    deviceUsable,
  };
}

/** Nothing armed, nothing refused, nothing to say (watchdog off, or no plan at all). */
export const NOT_ARMED: WatchdogActivation = Object.freeze({
  armed: false,
  timeoutSeconds: null,
  windowMs: null,
  refused: false,
  changed: false,
  message: null,
});
