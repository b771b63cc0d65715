/**
 * Carries out what the server parameters machine (src/machines/server-parameters.ts) decides:
 * one I/O operation per decision — the configuration file written, PostgreSQL reloaded — and the
 * result reported back to the machine. The machine handles every
 * event synchronously, so each method sends, reads the decision from the snapshot, and acts
 * within the same call, as the callers (the publisher, the sampler, a promotion) expect.
 */
import { type Actor, createActor, type InspectionEvent } from 'xstate';
import type { Dcs } from '../actors/dcs.ts';
import type { Postgres, PostgresStatus } from '../actors/postgres.ts';
import type { NodeConfig } from '../config/types.ts';
import type { SynchronousState } from '../machines/leader-duties.ts';
import {
  namesSomeone,
  parametersOf,
  type ServerParametersContext,
  type ServerParameterValues,
  sampleMatters,
  serverParametersMachine,
} from '../machines/server-parameters.ts';
import type { ProvideActors } from './provide.ts';

export class ServerParameters {
  private readonly actor: Actor<typeof serverParametersMachine>;

  constructor(
    private readonly o: {
      pg: Postgres;
      dcs: Dcs;
      name: string;
      config: () => NodeConfig;
      log: (msg: string) => void;
      inspect?: (ev: InspectionEvent) => void;
      provide: ProvideActors;
    },
  ) {
    this.actor = createActor(o.provide(serverParametersMachine, {}), {
      id: 'serverParameters',
      inspect: o.inspect,
    });
    this.actor.start();
  }

  private get ctx(): ServerParametersContext {
    return this.actor.getSnapshot().context;
  }

  /** synchronous_standby_names as this node set it last. */
  synchronousStandbyNames(): string {
    return this.ctx.names;
  }

  /** Whether a status sample has shown the running postmaster's value yet. */
  firstSampleSeen(): boolean {
    return this.actor.getSnapshot().matches('sampled');
  }

  /** New dynamic parameters (/config changed): written at the next start, or reloaded now. */
  setDynamic(parameters: ServerParameterValues): void {
    this.actor.send({ type: 'DYNAMIC', parameters });
    void this.apply();
  }

  /** The parameters given to PostgreSQL as the machine orders: written, or reloaded. */
  private apply(): Promise<void> {
    this.actor.send({ type: 'APPLY' });
    return this.carryOut();
  }

  private carryOut(): Promise<void> {
    const order = this.ctx.order;
    if (order.kind === 'reload') {
      return this.o.pg.reload(this.o.config(), order.params).then(
        () => this.actor.send({ type: 'RELOADED', text: order.text }),
        (err) => this.o.log(`reload: ${err}`),
      );
    }
    if (order.kind === 'write') this.o.pg.setParameters(order.params);
    return Promise.resolve();
  }

  /** A status sample begins: the token its answer is judged by (see sampled). */
  sampleBegins(): number {
    return this.ctx.epoch;
  }

  /** A sample's answer: the first one adopts a running primary's value; a fresh one shows where ours took effect. */
  sampled(status: PostgresStatus, token: number): void {
    // A sample that can change nothing is not sent (most are a standby's): the machine says which.
    if (!sampleMatters(this.actor.getSnapshot(), status, token)) return;
    this.actor.send({ type: 'SAMPLED', status, token });
    void this.carryOut();
  }

  /** synchronous_standby_names becomes `value`, naming `names` (reloaded by reload()). */
  setSynchronousStandbyNames(value: string, names: readonly string[]): void {
    this.actor.send({ type: 'SET_NAMES', value, names });
  }

  /** Reloads PostgreSQL with the server parameters; samples begun before the reload returned are stale. */
  async reload(): Promise<void> {
    await this.apply();
    this.actor.send({ type: 'RELOAD_RETURNED' });
  }

  /** A SIGHUP reload: these parameters are what PostgreSQL is about to be given. */
  reloadingWith(): ServerParameterValues {
    this.actor.send({ type: 'SIGHUP' });
    return parametersOf(this.ctx);
  }

  /**
   * Not the leader: the synchronous standbys are dropped (and PostgreSQL reloaded) once it is no
   * longer writable. Answers the reload under way, or null when there is nothing to do.
   */
  notLeader(status: PostgresStatus | null): Promise<void> | null {
    if (!namesSomeone(this.ctx)) return null; // nothing to drop: the event could change nothing
    const epoch = this.ctx.epoch;
    this.actor.send({ type: 'NOT_LEADER', status });
    return this.ctx.epoch === epoch ? null : this.reload();
  }

  /** synchronous_standby_names as held now, for the leader's next synchronous step. */
  synchronousState(): SynchronousState {
    const { names, inEffect, shown } = this.ctx;
    return { names, inEffect, shown };
  }

  /** PostgreSQL does not show the value set: reloaded again, whatever the parameters are. */
  reloadAgain(): Promise<void> {
    this.actor.send({ type: 'RELOAD_AGAIN' });
    return this.reload();
  }
}
