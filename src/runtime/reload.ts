/**
 * SIGHUP and POST /reload: the configuration file read again; what cannot change at run time
 * (config/reload.ts) refuses the whole file, nothing half-applied; otherwise the new settings go
 * to the node machine, new certificates to the REST API, and the parameters to PostgreSQL.
 */
import { loadConfig } from '../config/load.ts';
import { reloadRefusal } from '../config/reload.ts';
import type { NodeConfig } from '../config/types.ts';
import { serverOptions } from '../http/security.ts';
import type { NodeSettings } from '../machines/node/index.ts';
import type { NodeCore } from './core.ts';

export type ReloadHost = Pick<NodeCore, 'pg' | 'params' | 'config' | 'pollPostgres' | 'publish' | 'log'> & {
  /** The new configuration takes the old one's place. */
  replaceConfig(next: NodeConfig): void;
  /** New certificate, key or CA files for new REST connections. */
  reloadCertificates(): void;
  /** The settings from /config (as last seen) under the new local configuration. */
  settingsNow(): NodeSettings;
  tell(settings: NodeSettings): void;
  /** PostgreSQL was told to reload: Patroni's on_reload callback. */
  reloaded(): void;
};

export async function reload(h: ReloadHost): Promise<void> {
  const current = h.config();
  let next: NodeConfig;
  try {
    next = current.source ? loadConfig({ file: current.source }) : current;
  } catch (err) {
    h.log(`reload: configuration not applied: ${(err as Error).message}`);
    return;
  }
  const refusal = reloadRefusal(current, next);
  if (refusal) {
    h.log(`reload: ${refusal}; configuration not applied`);
    return;
  }
  try {
    serverOptions(next); // the certificate files load
  } catch (err) {
    h.log(`reload: configuration not applied: ${(err as Error).message}`);
    return;
  }
  h.replaceConfig(next);
  h.reloadCertificates();
  h.tell(h.settingsNow());
  try {
    // The same parameters as every other change: synchronous_standby_names included, or a
    // reload on a synchronous leader would stop PostgreSQL waiting for its standby and
    // acknowledge commits the standby /sync names never got (found by the simulator).
    // Sampled first, so that a running primary's synchronous standbys are known.
    if (!h.params.firstSampleSeen()) await h.pollPostgres();
    const signalled = await h.pg.reload(next, h.params.reloadingWith());
    h.log('reload: configuration applied');
    if (signalled) h.reloaded();
  } catch (err) {
    h.log(`reload: postgres reload failed: ${(err as Error).message}`);
  }
  void h.publish(true);
}
