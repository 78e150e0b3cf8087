/**
 * A frame for a client: JSON text (a text frame), or the bytes of a binary frame (a message
 * whose data is bytes, see protocol/binary.ts).
 */
export type OutFrame = string | Uint8Array;

/**
 * What a session needs from its WebSocket. Bun's ServerWebSocket satisfies it; keeping the
 * session on this narrow type keeps runtime details in gateway/bun.ts.
 */
export interface Socket {
  /**
   * Returns bytes sent, 0 when dropped, -1 when queued behind backpressure (a replay then
   * waits for the queue to shrink: Session.writable).
   */
  send(data: OutFrame): number;
  /** Joins a runtime-native pub/sub topic (Bun: `ws.subscribe`). */
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  close(code?: number, reason?: string): void;
  /** Bytes queued towards the client and not yet written to the network. */
  getBufferedAmount(): number;
}

/** Runtime-native publish to every socket subscribed to a topic (Bun: `server.publish`). */
export interface LocalFanout {
  publish(nativeTopic: string, frame: OutFrame): void;
}
