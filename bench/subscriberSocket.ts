/**
 * What a load worker needs of a subscriber session, whatever the server speaks: Switchyard's
 * frames (also the bare Bun baseline's) or Socket.IO's. Each message is handed over as JSON
 * text with the message's value under `data`, so that latency stamps read the same way.
 */
import { BenchSocket } from './benchSocket.ts';
import { SocketIoSocket } from './socketIoSocket.ts';
import type { Dialect } from './workerProtocol.ts';

export interface SubscriberSocket {
  /** Called for every message, with JSON text that holds the published value under `data`. */
  onMessage: (raw: string) => void;
  /** Called when the server closes the session or the connection breaks. */
  onUnexpectedClose: (code: number) => void;
  /** Called for error frames that answer no pending request. */
  onErrorFrame: (code: string) => void;
  /** Resolves once the server has acknowledged the subscription. */
  subscribe(topics: string[]): Promise<unknown>;
  close(): void;
}

/** Connects and resolves once the session is established (welcome, or Socket.IO's connect). */
export function connectSubscriber(dialect: Dialect, url: string, timeoutMs: number): Promise<SubscriberSocket> {
  return dialect === 'socket.io' ? SocketIoSocket.connect(url, timeoutMs) : BenchSocket.connect(url, timeoutMs);
}
