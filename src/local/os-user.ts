/** The OS account PostgreSQL runs as. Root may not run it, so root hands work to this user. */
import { readFileSync } from 'node:fs';

export interface OsUser {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

export function lookupUser(name = 'postgres'): OsUser | null {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 6)
      return { user: name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  return null;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Argument vector that runs `argv` as `user` when we are root, unchanged otherwise. setpriv
 * execs in place (unlike runuser, which stays as a parent), so the pid we get is the program's
 * own and signals and exit codes are its own.
 */
export function asUser(user: OsUser | null, argv: string[]): string[] {
  if (!isRoot() || !user) return argv;
  return [
    'setpriv',
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    '--init-groups',
    '--',
    'env',
    `HOME=${user.home}`,
    `USER=${user.user}`,
    `LOGNAME=${user.user}`,
    ...argv,
  ];
}
