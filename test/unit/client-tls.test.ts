import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tlsAttempts } from '../../src/actors/postgres/client-tls.ts';

const dir = mkdtempSync(join(tmpdir(), 'client-tls-'));
const ca = join(dir, 'root.crt');
writeFileSync(ca, 'a root certificate');
const su = (options: Record<string, string> = {}) => ({ username: 'postgres', password: 'x', ...options });

describe("the fence's TLS, from the superuser's libpq options (libpq's rules)", () => {
  it('prefer, the default: TLS first, then without; no certificate check', () => {
    const [first, second, ...rest] = tlsAttempts(su());
    expect(first).toMatchObject({ rejectUnauthorized: false });
    expect(second).toBe(false);
    expect(rest).toEqual([]);
    const named = tlsAttempts(su({ sslmode: 'prefer' }));
    expect(named[0]).toMatchObject({ rejectUnauthorized: false });
    expect(named[1]).toBe(false);
  });

  it('disable: without TLS only; allow: without, then with', () => {
    expect(tlsAttempts(su({ sslmode: 'disable' }))).toEqual([false]);
    const allow = tlsAttempts(su({ sslmode: 'allow' }));
    expect(allow[0]).toBe(false);
    expect(allow[1]).toMatchObject({ rejectUnauthorized: false });
  });

  it('require encrypts without a check, unless a root certificate is named (then as verify-ca)', () => {
    expect(tlsAttempts(su({ sslmode: 'require' }))).toEqual([
      expect.objectContaining({ rejectUnauthorized: false }),
    ]);
    const [withRoot] = tlsAttempts(su({ sslmode: 'require', sslrootcert: ca }));
    expect(withRoot).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('a root certificate') });
  });

  it('verify-ca checks the chain and not the host name; verify-full both', () => {
    const [vca] = tlsAttempts(su({ sslmode: 'verify-ca', sslrootcert: ca }));
    expect(vca).toMatchObject({ rejectUnauthorized: true });
    const check = vca ? vca.checkServerIdentity : undefined;
    expect(check).toBeTypeOf('function');
    expect(check?.('elsewhere', {} as never)).toBeUndefined();
    const [vfull] = tlsAttempts(su({ sslmode: 'verify-full', sslrootcert: ca }));
    expect(vfull).toMatchObject({ rejectUnauthorized: true });
    expect(vfull && 'checkServerIdentity' in vfull).toBe(false);
  });

  it('client certificate, key and its passphrase are handed on', () => {
    const [a] = tlsAttempts(su({ sslmode: 'require', sslcert: ca, sslkey: ca, sslpassword: 'p' }));
    expect(a).toMatchObject({ cert: expect.any(Buffer), key: expect.any(Buffer), passphrase: 'p' });
  });

  it('an unknown sslmode or a file that cannot be read: an error that names it, no connection', () => {
    expect(() => tlsAttempts(su({ sslmode: 'sometimes' }))).toThrow(
      /sslmode "sometimes" is not one of disable/,
    );
    expect(() => tlsAttempts(su({ sslmode: 'verify-ca', sslrootcert: join(dir, 'missing.crt') }))).toThrow(
      /sslrootcert .*missing\.crt: ENOENT/,
    );
  });
});
