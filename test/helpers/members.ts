/** Member keys for unit tests: a running replica named `name`, reached at `http://<name>:8008`. */
import type { Member } from '../../src/cluster/view.ts';

export function member(name: string): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      api_url: `http://${name}:8008/patroni`,
      conn_url: `postgres://${name}:5432/postgres`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
    },
  };
}
