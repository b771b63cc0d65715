/**
 * TLS for a node-postgres client that reaches another member's PostgreSQL over TCP (the fence,
 * src/actors/postgres/fence.ts), from the libpq options of the role's credentials — Patroni's
 * `authentication.superuser.sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslpassword` — the
 * same options libpq itself reads in primary_conninfo, pg_basebackup and pg_rewind. Without
 * them, a cluster whose pg_hba.conf admits the superuser only over TLS (`hostssl`) would refuse
 * every fence, and an orphan primary would stay writable.
 *
 * libpq's rules, kept: `prefer` (the default) tries TLS first and then without; `allow` the other
 * way round; `require` encrypts without checking the certificate, unless a root certificate is
 * given (then as `verify-ca`); `verify-ca` checks the chain; `verify-full` the chain and the host
 * name. Only explicitly named files are read (libpq also looks in ~/.postgresql).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { isSslMode, type RoleCredentials, SSL_MODES, type SslMode } from '../../config/types.ts';

/** One way to connect: false without TLS, else the TLS options node-postgres hands to tls.connect. */
export type TlsAttempt = false | ConnectionOptions;

/** The configuration refuses an unknown sslmode when it is read; checked again for other callers. */
function sslModeOf(cred: RoleCredentials): SslMode {
  const mode = cred['sslmode'] ?? 'prefer';
  if (isSslMode(mode)) return mode;
  throw new Error(`sslmode "${mode}" is not one of ${SSL_MODES.join(', ')}`);
}

/**
 * The connections to try, in order, for these credentials: the next one only when the one before
 * did not get a session. Throws when a named certificate or key file cannot be read (libpq refuses
 * to connect then, too).
 */
export function tlsAttempts(cred: RoleCredentials): TlsAttempt[] {
  const mode = sslModeOf(cred);
  switch (mode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, tlsOptions(cred, mode)];
    case 'prefer':
      return [tlsOptions(cred, mode), false];
    default:
      return [tlsOptions(cred, mode)];
  }
}

function tlsOptions(cred: RoleCredentials, mode: SslMode): ConnectionOptions {
  const file = (option: string): Buffer | undefined => {
    const p = cred[option];
    if (!p) return undefined;
    try {
      return readFileSync(p);
    } catch (err) {
      throw new Error(`${option} ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const ca = file('sslrootcert');
  const verifyChain =
    mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && ca !== undefined);
  return {
    ...(ca ? { ca } : {}),
    ...(cred['sslcert'] ? { cert: file('sslcert') } : {}),
    ...(cred['sslkey'] ? { key: file('sslkey') } : {}),
    ...(cred['sslpassword'] ? { passphrase: cred['sslpassword'] } : {}),
    rejectUnauthorized: verifyChain,
    // The host name is checked only with verify-full (tls checks it by default once the chain is).
    ...(mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}
