/**
 * A small TCP proxy that does what Fly's proxy does with `fly-replay`: it forwards a client's
 * HTTP request (a WebSocket upgrade here) to one of the backends, round robin; when the
 * response carries `fly-replay: instance=<id>`, it drops that response and replays the same
 * request to that instance instead (once); then it pipes the two sockets together. A backend
 * that refuses the connection is skipped. Loopback only; stopped by the test.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ReplayProxy {
  port: number;
  /** Upgrades replayed to another instance so far. */
  readonly replays: number;
  stop(): Promise<void>;
}

const HEAD_END = '\r\n\r\n';

/** Reads from a socket until the end of an HTTP head; resolves with the head and what followed it. */
function readHead(socket: Socket): Promise<{ head: string; rest: Buffer } | null> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf(HEAD_END);
      if (end < 0) return;
      cleanup();
      resolve({ head: buffer.subarray(0, end + HEAD_END.length).toString('latin1'), rest: buffer.subarray(end + HEAD_END.length) });
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    socket.on('close', onEnd);
  });
}

function dial(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/** `backends()` is read on every request: instance ID -> port of the instances that run now. */
export async function startReplayProxy(backends: () => Map<string, number>): Promise<ReplayProxy> {
  let next = 0;
  let replays = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    void (async () => {
      const request = await readHead(client);
      if (!request) return client.destroy();
      const ports = [...backends().values()];
      let upstream: Socket | null = null;
      for (let i = 0; i < ports.length && !upstream; i++) upstream = await dial(ports[next++ % ports.length]!);
      if (!upstream) return client.destroy();
      upstream.write(request.head);
      upstream.write(request.rest);
      let response = await readHead(upstream);
      const replay = response && /^fly-replay:\s*instance=([^\s;]+)/im.exec(response.head)?.[1];
      if (replay) {
        upstream.destroy();
        replays += 1;
        const port = backends().get(replay);
        upstream = port === undefined ? null : await dial(port);
        if (!upstream) return client.destroy();
        upstream.write(request.head);
        upstream.write(request.rest);
        response = await readHead(upstream);
      }
      if (!response) {
        upstream.destroy();
        return client.destroy();
      }
      open.add(upstream);
      const up = upstream;
      up.on('close', () => {
        open.delete(up);
        client.destroy();
      });
      up.on('error', () => up.destroy());
      client.on('close', () => up.destroy());
      client.write(response.head);
      client.write(response.rest);
      client.pipe(up);
      up.pipe(client);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy did not bind');
  return {
    port: address.port,
    get replays() {
      return replays;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
