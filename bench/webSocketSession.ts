/**
 * How the load workers' WebSocket sessions open (bench/benchSocket.ts, socketIoSocket.ts,
 * amqp/rpcSockets.ts): connect, let the session read the server's opening frames until it is
 * established, then hand it every later frame. Each protocol says only what its opening looks
 * like.
 */

/**
 * What a session makes of an opening frame: established (later frames go to receive()),
 * still opening (wait for the next frame), or a refusal with the reason.
 */
export type Opening = 'established' | 'opening' | { refused: string };

export interface OpeningSession {
  /** Reads one frame of the opening; it may answer on its socket. */
  opening(data: unknown): Opening;
  /** Every frame after the opening. */
  receive(data: unknown): void;
  /** The socket closed, during the opening (which then fails) or after it. */
  closed(code: number): void;
}

/**
 * Connects to `url` and gives the socket to `create`; resolves with the session once its
 * opening is done, rejects on a refusal, a close, or after `timeoutMs`.
 */
export function openSession<S extends OpeningSession>(url: string, timeoutMs: number, create: (ws: WebSocket) => S): Promise<S> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const session = create(ws);
    const fail = (why: string) => {
      clearTimeout(timer);
      ws.close();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no session opened at ${url} within ${timeoutMs} ms`), timeoutMs);
    ws.onmessage = (event) => {
      const opening = session.opening(event.data);
      if (opening === 'opening') return;
      if (opening !== 'established') return fail(`${opening.refused} (${url})`);
      clearTimeout(timer);
      ws.onmessage = (e) => session.receive(e.data);
      resolve(session);
    };
    // Once the session is open, the reject() below is a no-op: the promise has settled.
    ws.onclose = (event) => {
      clearTimeout(timer);
      session.closed(event.code);
      reject(new Error(`connection to ${url} closed with ${event.code} before the session opened`));
    };
  });
}

interface Pending<Reply> {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/**
 * What both kinds of subscriber session (Switchyard's frames, Socket.IO's) do alike: the
 * callbacks a load worker sets, the requests awaiting their answer (by request ID), and the
 * difference between a close the worker asked for and one it did not.
 */
export abstract class RequestSession<Reply> implements OpeningSession {
  /** Called for every message, with its raw text ('' for a binary message: it carries no send time). */
  onMessage: (raw: string) => void = () => {};
  /** Called when the server closes the session or the connection breaks. */
  onUnexpectedClose: (code: number) => void = () => {};
  /** Called for error frames that answer no pending request. */
  onErrorFrame: (code: string) => void = () => {};

  private readonly pending = new Map<string, Pending<Reply>>();
  private nextId = 0;
  protected closing = false;

  /** `idRadix`: how request IDs are written (Socket.IO's acks take decimal digits only). */
  protected constructor(
    protected readonly ws: WebSocket,
    private readonly idRadix: number,
  ) {}

  abstract opening(data: unknown): Opening;
  abstract receive(data: unknown): void;

  closed(code: number): void {
    for (const pending of this.pending.values()) pending.reject(new Error(`closed with ${code}`));
    this.pending.clear();
    if (!this.closing) this.onUnexpectedClose(code);
  }

  close(): void {
    this.closing = true;
    this.ws.close(1000);
  }

  /** Sends what `encode` makes of a fresh request ID; resolves with the answer settle() finds for it. */
  protected request(encode: (id: string) => string | Uint8Array<ArrayBuffer>): Promise<Reply> {
    const id = (this.nextId++).toString(this.idRadix);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(encode(id));
    });
  }

  /** The request that `id` answers, if it is still waiting. */
  protected settle(id: string): Pending<Reply> | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending;
  }
}
