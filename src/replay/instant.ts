/**
 * An instant as an operator writes it, epoch milliseconds or ISO 8601: `GET /journal?since=` and
 * `pgwarden replay --at`. Kept apart (no imports) so that the REST API loads nothing of the replay.
 */
export function parseInstant(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? null : parsed;
}
