/**
 * The watchdog as the node and election machines use it (rules: src/cluster/watchdog.ts). The
 * runtime's is a device (src/actors/watchdog/device.ts); the simulator's counts down on virtual
 * time and resets its node when it fires.
 */
import type { WatchdogActivation, WatchdogConfig, WatchdogPlan } from '../cluster/watchdog.ts';

export interface Watchdog {
  /**
   * Makes the device match `wanted`: opened, given the plan's timeout and kept open when the
   * verdict arms it (closed again when it must not be used); closed when not wanted. Idempotent:
   * armed already with the plan's timeout, nothing is done and `changed` is false.
   */
  setTo(plan: WatchdogPlan, wanted: boolean): Promise<WatchdogActivation>;
  /** Resets the countdown, if armed (a no-op otherwise, as Patroni's keepalive). */
  keepalive(): Promise<void>;
  /** Closed the way that stops the countdown (magic close), if armed. */
  disarm(): Promise<void>;
  /** The timeout (ms) in effect while armed, null when not: how long a stalled agent's host may live. */
  armedTimeoutMs(): number | null;
  /** The device exists and this process may write it (Patroni's is_healthy for the device). */
  usable(config: WatchdogConfig): boolean;
}
