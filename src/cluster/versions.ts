/**
 * PostgreSQL version strings as server_version_num integers, the way Patroni reads them:
 * X.Y (X ≥ 10) or X.Y.Z, each part two digits: `15.4` → 150004, `9.6.24` → 90624.
 */
export class VersionFormatError extends Error {
  /** `unparsable`: a part is not an integer (Python's int() fails), Patroni's shorter message. */
  constructor(version: string, unparsable = false) {
    super(
      unparsable
        ? `Invalid PostgreSQL version: ${version}`
        : `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${version}`,
    );
    this.name = 'VersionFormatError';
  }
}

export function postgresVersionToInt(version: string): number {
  const texts = version.split('.');
  if (texts.some((t) => !/^\s*[+-]?\d+\s*$/.test(t))) throw new VersionFormatError(version, true);
  const parts = texts.map((t) => Number.parseInt(t, 10));
  if (parts.length < 2 || parts.length > 3 || (parts.length === 2 && parts[0]! < 10)) {
    throw new VersionFormatError(version);
  }
  if (parts.length === 2) parts.splice(1, 0, 0);
  return Number(parts.map((p) => String(p).padStart(2, '0')).join(''));
}
