/** Member keys for unit tests: a running replica named `name`, reached at `http://<name>:8008`. */
import type { Member } from '../../src/cluster/view.ts';

export function member(name: string): Member {
  return memberWith(name, {});
}

/** The same with these tags, and another PostgreSQL address if given. */
export function memberWith(name: string, over: { tags?: Record<string, unknown>; connUrl?: string }): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      api_url: `http://${name}:8008/patroni`,
      conn_url: over.connUrl ?? `postgres://${name}:5432/postgres`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      ...(over.tags ? { tags: over.tags } : {}),
    },
  };
}
