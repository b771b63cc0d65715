/**
 * The values the ctl commands' options accept, checked as click checks them (message shape,
 * exit 2) before anything is read or written. Its own small module: the command line loads it
 * to parse, and each command's module (and what it imports) only when that command runs.
 */
import { CliError } from '../errors.ts';

export const ROLES = ['leader', 'primary', 'standby-leader', 'replica', 'standby', 'any', 'master'] as const;
export type RoleChoice = (typeof ROLES)[number];
export const FORMATS = ['pretty', 'tsv', 'json', 'yaml', 'yml'] as const;
export type Format = (typeof FORMATS)[number] | 'topology';
export const FLUSH_TARGETS = ['restart', 'switchover'] as const;

/** click.Choice validation: the same message shape, exit 2. */
export function checkChoice<T extends string>(value: string, choices: readonly T[], option: string): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new CliError(
    `Invalid value for '${option}': '${value}' is not one of ${choices.map((c) => `'${c}'`).join(', ')}.`,
    2,
  );
}

export function parseFormat(value: unknown): Format {
  return checkChoice(String(value ?? 'pretty'), FORMATS, '--format');
}

export function parseRole(value: unknown, fallback?: RoleChoice): RoleChoice | undefined {
  return value === undefined ? fallback : checkChoice(String(value), ROLES, '--role');
}

export function parseSeconds(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError(`Invalid value for '${option}': '${value}' is not a valid float.`, 2);
  return n;
}
