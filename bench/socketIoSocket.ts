/**
 * One load-generator session with a Socket.IO server, speaking its wire protocol over a raw
 * Bun WebSocket (engine.io v4, WebSocket transport only, no HTTP long-polling first):
 *
 *   server `0{"sid":…}` (engine open)  -> client `40` (connect to namespace "/")
 *   server `40{"sid":…}`               -> connected
 *   client `42<id>["subscribe",[…]]`   -> server `43<id>[…]` (the ack)
 *   server `42["message",{…}]`         (an event), `2` (ping) -> client `3` (pong)
 *
 * socket.io-client would do the same with an EventEmitter, a decoder and a packet object per
 * message; this class looks at a prefix and hands the text on, so that the generator spends
 * on a Socket.IO message what it spends on a Switchyard one (see docs/benchmarks.md).
 */
import type { SubscriberSocket } from './subscriberSocket.ts';

/** The bench's Socket.IO server emits every message as this event, with one argument. */
const EVENT_PREFIX = '42["message",';

interface Pending {
  resolve: (reply: string) => void;
  reject: (error: Error) => void;
}

export class SocketIoSocket implements SubscriberSocket {
  onMessage: (raw: string) => void = () => {};
  onUnexpectedClose: (code: number) => void = () => {};
  onErrorFrame: (code: string) => void = () => {};

  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;

  private constructor(private readonly ws: WebSocket) {}

  /** `url`: ws://host:port/socket.io/?EIO=4&transport=websocket. Resolves once connected to "/". */
  static connect(url: string, timeoutMs: number): Promise<SocketIoSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const socket = new SocketIoSocket(ws);
      const fail = (why: string) => {
        clearTimeout(timer);
        ws.close();
        reject(new Error(`${why} (${url})`));
      };
      const timer = setTimeout(() => fail(`not connected within ${timeoutMs} ms`), timeoutMs);
      ws.onmessage = (event) => {
        const text = String(event.data);
        if (text.startsWith('0')) ws.send('40');
        else if (text.startsWith('40')) {
          clearTimeout(timer);
          ws.onmessage = (e) => socket.receive(e.data);
          resolve(socket);
        } else if (text === '2') ws.send('3');
        else fail(`expected a namespace connect, got ${text.slice(0, 200)}`);
      };
      // Stays installed after the connect; from then on the reject() below is a no-op.
      ws.onclose = (event) => {
        clearTimeout(timer);
        socket.failPending(new Error(`closed with ${event.code}`));
        if (!socket.closing) socket.onUnexpectedClose(event.code);
        reject(new Error(`connection to ${url} closed with ${event.code} before connect`));
      };
    });
  }

  subscribe(topics: string[]): Promise<string> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(`42${id}${JSON.stringify(['subscribe', topics])}`);
    });
  }

  close(): void {
    this.closing = true;
    this.ws.close(1000);
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    if (data.startsWith(EVENT_PREFIX)) {
      // `{"topic":…,"data":…}`: the event's one argument, without the array around it.
      this.onMessage(data.slice(EVENT_PREFIX.length, -1));
    } else if (data === '2') {
      this.ws.send('3');
    } else if (data.startsWith('43')) {
      const bracket = data.indexOf('[');
      const id = Number(data.slice(2, bracket));
      const pending = this.pending.get(id);
      this.pending.delete(id);
      pending?.resolve(data.slice(bracket));
    } else if (data.startsWith('44')) {
      this.onErrorFrame('connect_error');
    } else if (data.startsWith('41') || data === '1') {
      // Namespace disconnect or engine close from the server; the socket close follows.
      if (!this.closing) this.onErrorFrame('disconnect');
    }
  }

  private failPending(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
