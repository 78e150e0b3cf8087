/**
 * A TCP proxy on loopback for fault tests: a process under test connects to the proxy
 * instead of a service, and the test cuts every proxied connection at will, can refuse
 * new ones for a while (an outage the test can observe before the process reconnects), or
 * freeze them: connections stay open and nothing passes, as when a network path or the
 * service stalls (no error, no close: only timeouts notice).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The loopback port the proxy listens on. */
  port: number;
  /** Connections accepted and passed through so far. */
  readonly accepted: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Destroys every open connection (both sides). */
  cutAll(): void;
  /** While true, new connections are accepted and closed at once. */
  refuse(on: boolean): void;
  /** While true, nothing passes in either direction on any connection, new ones included; bytes wait until it ends. */
  freeze(on: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  let frozen = false;
  let accepted = 0;
  const flow = ([client, upstream]: [Socket, Socket]): void => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const halt = ([client, upstream]: [Socket, Socket]): void => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted += 1;
    const upstream = createConnection({ host: target.host, port: target.port });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', drop);
      s.on('close', drop);
    }
    if (frozen) halt(pair);
    else flow(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const cutAll = (): void => {
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    cutAll,
    refuse(on) {
      refusing = on;
    },
    freeze(on) {
      if (on === frozen) return;
      frozen = on;
      for (const pair of pairs) (on ? halt : flow)(pair);
    },
    close() {
      cutAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
