/**
 * A TCP proxy in the benchmark process between one agent and etcd, that the benchmark can cut:
 * the agent's only way to etcd, so cutting it isolates that agent from the DCS while the agent
 * and its PostgreSQL stay alive and reachable by clients and peers.
 *
 * cut(): every open connection is reset (RST to the agent, close to etcd) and every new one is
 * accepted and then never answered (a blackhole: requests time out, as across a partition that
 * drops packets). restore(): the held connections are closed and new ones are forwarded again.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface CuttableProxy {
  port: number;
  isCut(): boolean;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** Listens on a free loopback port (port 0: the kernel picks; bound at once, so no outgoing connection can take it first). */
export async function startProxy(target: () => { host: string; port: number }): Promise<CuttableProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const held = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    client.on('error', () => {});
    if (cut) {
      // Blackhole: never read, never answer, never close (until restore or close).
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    const { host, port } = target();
    const upstream = connect({ host, port });
    upstream.on('error', () => {});
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const restore = () => {
    cut = false;
    for (const s of held) s.destroy();
    held.clear();
  };
  return {
    port,
    isCut: () => cut,
    cut: () => {
      cut = true;
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    restore,
    close: async () => {
      restore();
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
