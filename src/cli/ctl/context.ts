/**
 * What every ctl command gets: the loaded config, stdout, prompts, the REST client and the DCS of
 * a named cluster: the same KvDcs as the agent's, used in ctl mode (plain reads of the prefix, no
 * lease, no watch), over etcd's JSON gateway as patronictl speaks to etcd — the gRPC client's
 * loading alone (about 100 ms) would be half of what `list` may take — unless the gateway would
 * refuse this client (config/etcd-access.ts, gatewayServes): then over gRPC.
 */
import { DcsError } from '../../actors/dcs.ts';
import { EtcdGatewayKv } from '../../actors/etcd-gateway.ts';
import { KvDcs } from '../../actors/kv-dcs/index.ts';
import type { ClusterView } from '../../cluster/view.ts';
import {
  type EtcdClientOptions,
  EtcdFileError,
  etcdClientOptions,
  gatewayServes,
} from '../../config/etcd-access.ts';
import { CliError } from '../errors.ts';
import { type CtlConfig, type CtlConfigOptions, loadCtlConfig } from './config.ts';
import { Prompter, StdinLines } from './prompt.ts';
import { RestClient } from './rest.ts';

export interface GlobalOptions {
  configFile?: string;
  dcsUrl?: string;
  insecure?: boolean;
}

export class CtlContext {
  readonly rest: RestClient;
  readonly prompter: Prompter;
  private readonly dcss = new Map<string, Promise<KvDcs>>();

  constructor(
    readonly config: CtlConfig,
    readonly write: (text: string) => void = (t) => process.stdout.write(t),
    prompter?: Prompter,
  ) {
    this.rest = new RestClient(config.rest);
    this.prompter = prompter ?? new Prompter(new StdinLines(), write);
  }

  static load(o: GlobalOptions & Pick<CtlConfigOptions, 'env'>): CtlContext {
    return new CtlContext(loadCtlConfig(o));
  }

  /** click.echo: the text and a newline. */
  echo(text = ''): void {
    this.write(`${text}\n`);
  }

  clusterName(given: string | undefined): string {
    const name = given ?? this.config.scope;
    if (!name) throw new CliError('Missing argument CLUSTER_NAME (and no scope in the configuration)', 2);
    return name;
  }

  dcs(cluster: string): Promise<KvDcs> {
    let dcs = this.dcss.get(cluster);
    if (!dcs) {
      dcs = this.openDcs(cluster);
      this.dcss.set(cluster, dcs);
    }
    return dcs;
  }

  private async openDcs(cluster: string): Promise<KvDcs> {
    if (!this.config.etcd) {
      throw new CliError('Can not find suitable configuration of distributed configuration store', 1);
    }
    let access: EtcdClientOptions;
    try {
      access = etcdClientOptions(this.config.etcd);
    } catch (err) {
      if (err instanceof EtcdFileError) throw new CliError(err.message, 1);
      throw err;
    }
    const opts = {
      namespace: this.config.namespace,
      scope: cluster,
      retryTimeoutSeconds: this.config.retryTimeout,
    };
    if (gatewayServes(access)) return new KvDcs(new EtcdGatewayKv(access), opts);
    const { EtcdDcs } = await import('../../actors/etcd-dcs.ts');
    return new EtcdDcs({ ...access, ...opts });
  }

  async cluster(name: string): Promise<ClusterView> {
    const dcs = await this.dcs(name);
    try {
      return await dcs.getCluster();
    } catch (err) {
      if (err instanceof DcsError || err instanceof Error) {
        const hosts = this.config.etcd?.hosts.map((h) => `${this.config.etcd!.protocol}://${h}`) ?? [];
        throw new CliError(`DCS is not accessible (${hosts.join(',')}): ${err.message}`, 1);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.dcss.values()].map((d) => d.then((x) => x.close()).catch(() => {})));
  }
}
