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
 * on a Socket.IO message what it spends on a Switchyard one (see docs/benchmarks-log.md).
 */
import type { SubscriberSocket } from './subscriberSocket.ts';
import { openSession, RequestSession, type Opening } from './webSocketSession.ts';

/** The bench's Socket.IO server emits every message as this event, with one argument. */
const EVENT_PREFIX = '42["message",';

export class SocketIoSocket extends RequestSession<string> implements SubscriberSocket {
  private constructor(ws: WebSocket) {
    super(ws, 10);
  }

  /** `url`: ws://host:port/socket.io/?EIO=4&transport=websocket. Resolves once connected to "/". */
  static connect(url: string, timeoutMs: number): Promise<SocketIoSocket> {
    return openSession(url, timeoutMs, (ws) => new SocketIoSocket(ws));
  }

  /** Its opening: engine open, then the connect to namespace "/" (a ping may come between). */
  opening(data: unknown): Opening {
    const text = String(data);
    if (text.startsWith('0')) this.ws.send('40');
    else if (text.startsWith('40')) return 'established';
    else if (text === '2') this.ws.send('3');
    else return { refused: `expected a namespace connect, got ${text.slice(0, 200)}` };
    return 'opening';
  }

  /** Acknowledged with `43<id>[…]`. */
  subscribe(topics: string[]): Promise<string> {
    return this.request((id) => `42${id}${JSON.stringify(['subscribe', topics])}`);
  }

  receive(data: unknown): void {
    if (typeof data !== 'string') return;
    if (data.startsWith(EVENT_PREFIX)) {
      // `{"topic":…,"data":…}`: the event's one argument, without the array around it.
      this.onMessage(data.slice(EVENT_PREFIX.length, -1));
    } else if (data === '2') {
      this.ws.send('3');
    } else if (data.startsWith('43')) {
      const bracket = data.indexOf('[');
      this.settle(data.slice(2, bracket))?.resolve(data.slice(bracket));
    } else if (data.startsWith('44')) {
      this.onErrorFrame('connect_error');
    } else if (data.startsWith('41') || data === '1') {
      // Namespace disconnect or engine close from the server; the socket close follows.
      if (!this.closing) this.onErrorFrame('disconnect');
    }
  }

}
