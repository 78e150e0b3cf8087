/**
 * The peer of the cluster scenarios: a Socket.IO server as its users write it, one of two
 * instances sharing Redis through `@socket.io/redis-streams-adapter` (with the `redis`
 * client). A client emits `subscribe` with a list of rooms and gets an ack; `POST /publish`
 * with `{"topic","data"}` does `io.to(topic).emit('message', {topic, data})`, which reaches
 * the room's members on every instance. `GET /readyz` answers once Redis is connected.
 *
 * Env: PORT, HOST, REDIS_URL, SIO_STREAM_NAME (the adapter's stream, unique per bench run),
 * SIO_CHANNEL_PREFIX (its pub/sub channels). Runs under Node or Bun (see bench/cluster/).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 0);
const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: unknown) => console.error('redis error', error));
await redis.connect();

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const http = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    res.writeHead(redis.isReady ? 200 : 503).end();
    return;
  }
  if (req.method === 'POST' && req.url === '/publish') {
    body(req)
      .then((text) => {
        const { topic, data } = JSON.parse(text) as { topic: string; data: unknown };
        io.to(topic).emit('message', { topic, data });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      })
      .catch(() => res.writeHead(400).end());
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  adapter: createAdapter(redis, {
    streamName: process.env.SIO_STREAM_NAME ?? 'socket.io',
    channelPrefix: process.env.SIO_CHANNEL_PREFIX ?? 'socket.io',
  }),
});

io.on('connection', (socket) => {
  socket.on('subscribe', (rooms: string[], ack?: (reply: { ok: boolean }) => void) => {
    void socket.join(rooms);
    ack?.({ ok: true });
  });
});

http.listen(port, process.env.HOST ?? '127.0.0.1');

// Exit with the harness even if it dies without stopping us (we are then re-parented).
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 1000).unref();

process.on('SIGTERM', () => {
  void io.close().finally(() => redis.quit().finally(() => process.exit(0)));
});
