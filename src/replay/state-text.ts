/** A machine state as people read it: `active.running.primary`, parallel regions joined by `|`. */

/** The journal's state text (a string, or the JSON of a nested value) as a dotted path. */
export function stateText(what: string): string {
  if (!what.startsWith('{')) return what;
  try {
    return dotted(JSON.parse(what));
  } catch {
    return what;
  }
}

function dotted(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  const parts = Object.entries(value).map(([k, v]) => {
    const inner = dotted(v);
    return inner === '' ? k : `${k}.${inner}`;
  });
  return parts.length === 1 ? parts[0]! : parts.join(' | ');
}

/**
 * An event type as people read it: XState's own are shortened — `done bootstrap.initdb` for
 * `xstate.done.actor.0.node.bootstrap.initdb`, `error …`, `after loopWait`.
 */
export function eventLabel(type: string): string {
  const actor = /^xstate\.(done|error)\.actor\.(?:\d+\.)?(?:[^.]+\.)?(.+)$/.exec(type);
  if (actor) return `${actor[1]} ${actor[2]}`;
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]}`;
  return type;
}
