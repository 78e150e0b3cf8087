/**
 * Everything Bun-specific about serving: the Hono upgrade helper and Bun.serve with the
 * WebSocket options (hard frame limit, backpressure, idle timeout). Nothing else in the
 * gateway imports from `hono/bun` or calls Bun.serve.
 *
 * Hono performs the upgrade and owns open/close. Incoming frames take a shorter road: Hono's
 * adapter builds a MessageEvent and a WSContext (copying the connection's URL) for every
 * frame, which was 17% of the publish path's CPU; events that can take a frame directly
 * (DirectFrames) get it from Bun as is. The parsed URL Hono keeps per connection is dropped
 * after open: nothing reads it, and it costs memory on every idle connection.
 *
 * Why `hono/bun` and Hono's per-connection `ws.data.events` (internal): hono 4 marks `hono/bun`
 * deprecated in favour of a separate `@hono/bun` package, but that package is not published
 * on the npm registry (404 on 2026-12-01), so there is no supported entry point to move to
 * yet. Both stay confined to this file; `test/architecture.test.ts` checks that no other file
 * imports `hono/bun`.
 */
import type { Hono } from 'hono';
import { upgradeWebSocket, websocket } from 'hono/bun';
import type { WSEvents } from 'hono/ws';
import type { LocalFanout } from './socket.ts';

export { upgradeWebSocket };

/** WebSocket events that accept a frame straight from the runtime. */
export interface DirectFrames {
  onFrame(data: string | Uint8Array): void;
}

type HonoData = { events: WSEvents & Partial<DirectFrames>; url?: URL; protocol: string };
type HonoSocket = Parameters<typeof websocket.open>[0];

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Frames above this are cut by the runtime with close code 1009. */
  hardFrameLimitBytes: number;
  sendBufferLimitBytes: number;
  idleTimeoutSec: number;
  /** Let other processes listen on the same port (SO_REUSEPORT): the kernel spreads connections. @default false */
  reusePort?: boolean;
}

export interface RunningServer extends LocalFanout {
  readonly port: number;
  readonly hostname: string;
  /** Stops accepting connections; open WebSockets stay. */
  stopListening(): void;
  /** Closes everything still open. */
  close(): Promise<void>;
}

export function serve(app: Hono, options: ServeOptions): RunningServer {
  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    reusePort: options.reusePort ?? false,
    fetch: app.fetch,
    websocket: {
      ...websocket,
      open(ws: HonoSocket) {
        websocket.open(ws);
        (ws.data as HonoData).url = undefined;
      },
      message(ws: HonoSocket, message: string | Uint8Array) {
        const events = (ws.data as HonoData).events;
        if (events.onFrame) events.onFrame(message);
        else websocket.message(ws, message);
      },
      // No `drain` handler on purpose: it would run for every socket a fan-out backs up.
      // A paused replay polls the socket's queue instead (Session.writable).
      maxPayloadLength: options.hardFrameLimitBytes,
      backpressureLimit: options.sendBufferLimitBytes,
      closeOnBackpressureLimit: true,
      idleTimeout: options.idleTimeoutSec,
      // Compression would cost a deflate per subscriber: it defeats encode-once fan-out.
      perMessageDeflate: false,
      publishToSelf: false,
    },
  });
  return {
    port: server.port ?? options.port,
    hostname: server.hostname ?? options.host,
    publish: (topic, frame) => {
      server.publish(topic, frame);
    },
    stopListening: () => {
      void server.stop(false);
    },
    close: () => server.stop(true),
  };
}
