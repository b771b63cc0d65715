/** PostgreSQL LSNs travel as `X/Y` text; pgwarden keeps them as byte counts everywhere. */

export function parseLsn(text: string): number {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`invalid LSN: ${JSON.stringify(text)}`);
  return Number.parseInt(m[1]!, 16) * 0x1_0000_0000 + Number.parseInt(m[2]!, 16);
}

export function formatLsn(lsn: number): string {
  const hi = Math.floor(lsn / 0x1_0000_0000);
  const lo = lsn % 0x1_0000_0000;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}
