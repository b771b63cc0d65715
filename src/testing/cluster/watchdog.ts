/**
 * A node's watchdog in the simulator: hardware that outlives the agent. Armed by the agent's
 * production DeviceWatchdog through a driver that counts virtual time; when a countdown runs out
 * the host is reset — the agent and PostgreSQL die at once — and it boots again a little later,
 * as a machine would. What it did is recorded for the invariants (src/testing/invariants/watchdog.ts).
 */
import type { WatchdogDriver } from '../../actors/watchdog/drivers.ts';
import type { WatchdogReading } from '../../cluster/watchdog.ts';

/** How long a reset host takes to run its agent again (virtual ms). */
export const REBOOT_MS = 20_000;

/** A reset, and what the agent was doing since the last keepalive. */
export interface WatchdogFiring {
  node: string;
  at: number;
  lastKeepaliveAt: number;
  /**
   * The agent was alive and never frozen since the last keepalive, and was not stopping
   * PostgreSQL when it fired: it could have demoted itself and closed the watchdog. (A demotion
   * whose stop outlasts the slack — PostgreSQL slower to stop than a loop_wait — is reset, as in
   * Patroni: that server might still take writes when the lease runs out.)
   */
  agentCouldAct: boolean;
}

export class SimulatedWatchdog {
  /** Open (counting down), with its timeout. */
  private timeoutMs: number | null = null;
  lastKeepaliveAt = 0;
  /** The device is there but fails to open (a scenario breaks it: `required` must then refuse). */
  broken = false;

  constructor(
    readonly node: string,
    private readonly now: () => number,
  ) {}

  get armed(): boolean {
    return this.timeoutMs !== null;
  }

  /** The countdown has run out (checked by the cluster after each step). */
  due(): boolean {
    return this.timeoutMs !== null && this.now() >= this.lastKeepaliveAt + this.timeoutMs;
  }

  /** The reset happened: the device is closed with the host. */
  fired(): void {
    this.timeoutMs = null;
  }

  /**
   * A driver for one agent's DeviceWatchdog: opening arms it, a keepalive restarts the count,
   * closing (magic close) stops it. Nothing an agent that is dead or frozen still had in flight
   * reaches the device: such a process writes nothing.
   */
  driver(canAct: () => boolean): WatchdogDriver {
    return {
      open: async (timeoutSeconds: number): Promise<WatchdogReading> => {
        const description = 'simulated watchdog';
        const closed = (error: string) => ({ open: false, timeoutSeconds: null, description, error });
        if (!canAct()) return closed('agent gone');
        if (this.broken) return closed('the device fails to open');
        this.timeoutMs = timeoutSeconds * 1000;
        this.lastKeepaliveAt = this.now();
        return { open: true, timeoutSeconds, description, error: null };
      },
      keepalive: async () => {
        if (this.timeoutMs !== null && canAct()) this.lastKeepaliveAt = this.now();
      },
      close: async () => {
        if (canAct()) this.timeoutMs = null;
      },
    };
  }
}

/** What the watchdogs act on: a node of the cluster. */
export interface WatchdogHost {
  readonly name: string;
  alive(): boolean;
  frozen(): boolean;
  /** Virtual ms the agent was last started at, and last thawed at. */
  readonly startedAt: number;
  readonly thawedAt: number;
  /** The agent is stopping its PostgreSQL (a demotion or a shutdown under way). */
  stoppingPostgres(): boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/** Every node's watchdog, the resets they cause and the reboots after them. */
export class SimulatedWatchdogs {
  readonly devices = new Map<string, SimulatedWatchdog>();
  readonly firings: WatchdogFiring[] = [];
  /** Promotions that found another server writable with its watchdog still armed (see notePromotion). */
  readonly armedBeside: Array<{ promoted: string; at: number; others: string[] }> = [];
  private readonly reboots = new Map<string, number>();

  private readonly now: () => number;

  constructor(nodes: ReadonlyArray<{ name: string }>, clock: { now(): number }) {
    this.now = () => clock.now();
    for (const n of nodes) this.devices.set(n.name, new SimulatedWatchdog(n.name, this.now));
  }

  /**
   * A promotion: any other server still writable with its watchdog armed is recorded. Its lease
   * is gone (another node took the lock), so its agent, if it could act, demoted and closed the
   * watchdog by then; if it could not, the watchdog reset the host by then: it fires no later
   * than the lease runs out. Either way nothing should be left.
   */
  notePromotion(
    promoted: string,
    nodes: ReadonlyArray<WatchdogHost & { postgres: { writable(): boolean } }>,
  ): void {
    const others = nodes
      .filter((n) => n.name !== promoted && n.postgres.writable() && this.devices.get(n.name)?.armed)
      .map((n) => n.name);
    if (others.length > 0) this.armedBeside.push({ promoted, at: this.now(), others });
  }

  /**
   * After each step: a countdown that ran out resets its host; a reset host runs its agent again
   * REBOOT_MS later. True when something happened (the cluster settles again).
   */
  tick(nodes: readonly WatchdogHost[]): boolean {
    let acted = false;
    const now = this.now();
    for (const node of nodes) {
      const device = this.devices.get(node.name);
      if (device?.due()) {
        const since = device.lastKeepaliveAt;
        this.firings.push({
          node: node.name,
          at: now,
          lastKeepaliveAt: since,
          agentCouldAct:
            node.alive() &&
            !node.frozen() &&
            node.thawedAt <= since &&
            node.startedAt <= since &&
            !node.stoppingPostgres(),
        });
        device.fired();
        this.reboots.set(node.name, now + REBOOT_MS);
        void node.kill();
        acted = true;
      }
      const reboot = this.reboots.get(node.name);
      if (reboot !== undefined && now >= reboot) {
        this.reboots.delete(node.name);
        if (!node.alive()) void node.restart();
        acted = true;
      }
    }
    return acted;
  }
}
