/** The OS account PostgreSQL runs as. Root may not run it, so root hands work to this user. */
import { readFileSync } from 'node:fs';

export interface OsUser {
  user: string;
  uid: number;
  gid: number;
}

export function lookupUser(name = 'postgres'): OsUser | null {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { user: name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** Argument vector that runs `argv` as `user` when we are root, unchanged otherwise. */
export function asUser(user: OsUser | null, argv: string[]): string[] {
  return isRoot() && user ? ['runuser', '-u', user.user, '--', ...argv] : argv;
}
