/**
 * What every ctl command gets: the loaded config, stdout, prompts, the REST client and the DCS of
 * a named cluster: the same KvDcs as the agent's, used in ctl mode (plain reads of the prefix, no
 * lease, no watch), over etcd's JSON gateway as patronictl speaks to etcd: the gRPC client's
 * loading alone (about 100 ms) would be half of what `list` may take.
 */
import { DcsError } from '../../actors/dcs.ts';
import { EtcdGatewayKv } from '../../actors/etcd-gateway.ts';
import { KvDcs } from '../../actors/kv-dcs/index.ts';
import type { ClusterView } from '../../cluster/view.ts';
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
  private readonly dcss = new Map<string, KvDcs>();

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

  dcs(cluster: string): KvDcs {
    let dcs = this.dcss.get(cluster);
    if (!dcs) {
      if (this.config.etcdHosts.length === 0) {
        throw new CliError('Can not find suitable configuration of distributed configuration store', 1);
      }
      dcs = new KvDcs(new EtcdGatewayKv(this.config.etcdHosts), {
        namespace: this.config.namespace,
        scope: cluster,
        retryTimeoutSeconds: this.config.retryTimeout,
      });
      this.dcss.set(cluster, dcs);
    }
    return dcs;
  }

  async cluster(name: string): Promise<ClusterView> {
    try {
      return await this.dcs(name).getCluster();
    } catch (err) {
      if (err instanceof DcsError || err instanceof Error) {
        throw new CliError(`DCS is not accessible (${this.config.etcdHosts.join(',')}): ${err.message}`, 1);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.dcss.values()].map((d) => d.close().catch(() => {})));
  }
}
