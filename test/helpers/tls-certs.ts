/**
 * Throwaway certificates made with openssl in a temp dir: a CA, a rogue CA, a server certificate
 * for 127.0.0.1/localhost, a client certificate, and one from the rogue CA. `file(name)` gives
 * each path (`ca.crt`, `server.key`, `client.crt`, `rogue.crt`, `combined.pem` …).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCerts {
  dir: string;
  file(name: string): string;
  /** Another certificate `name` from CA `ca` with these x509 extensions (openssl's -extfile); subject `/CN=<name>` unless given. */
  issue(name: string, ca: string, ext: string, subject?: string): void;
  remove(): void;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgwarden-tls-'));
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = (name: string) =>
    ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', f(name));
  const makeCa = (name: string) => {
    newKey(`${name}.key`);
    ssl(
      'req',
      '-x509',
      '-new',
      '-key',
      f(`${name}.key`),
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  };
  const issue = (name: string, ca: string, ext: string, subject = `/CN=${name}`) => {
    newKey(`${name}.key`);
    ssl('req', '-new', '-key', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subject);
    writeFileSync(f(`${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f(`${ca}.crt`),
      '-CAkey',
      f(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    );
  };
  makeCa('ca');
  makeCa('rogue-ca');
  issue(
    'server',
    'ca',
    'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  issue('client', 'ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  issue('rogue', 'rogue-ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  writeFileSync(
    f('combined.pem'),
    Buffer.concat([readFileSync(f('server.crt')), readFileSync(f('server.key'))]),
  );
  return { dir, file: f, issue, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
