/**
 * Everything Bun-specific about serving: the Hono upgrade helper and Bun.serve with the
 * WebSocket options (hard frame limit, backpressure, idle timeout). Nothing else in the
 * gateway imports from `hono/bun` or calls Bun.serve.
 */
import type { Hono } from 'hono';
import { upgradeWebSocket, websocket } from 'hono/bun';
import type { LocalFanout } from './socket.ts';

export { upgradeWebSocket };

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Frames above this are cut by the runtime with close code 1009. */
  hardFrameLimitBytes: number;
  sendBufferLimitBytes: number;
  idleTimeoutSec: number;
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
    fetch: app.fetch,
    websocket: {
      ...websocket,
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
