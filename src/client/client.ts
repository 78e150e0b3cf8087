/**
 * The TypeScript client SDK (browsers, Bun, Node 22+; only the standard WebSocket): one
 * logical connection to a Switchyard cluster that survives instance restarts. It reconnects
 * with capped exponential backoff and full jitter, rotating through the given URLs, and stops
 * on terminal close codes. On each connection it resubscribes every topic with `since` = its
 * position (the last offset it saw, or the position the subscribe ack gave, so that a topic
 * with no message yet resumes too), and tells the application when history could not cover a
 * gap (`gap`, and `recovered: false` on the `open` state). Jobs (`rpc`) survive reconnects:
 * the client resumes its session with the token from `welcome`. Messages and direct messages
 * may carry bytes (binary frames, protocol/binary.ts): the app gets a Uint8Array. Topics are
 * kept in Maps only. Imports only protocol/.
 */
import { decodeServerBinary, encodeBinaryPublish, encodeBinarySend } from '../protocol/binary.ts';
import { shouldReconnect } from '../protocol/codes.ts';
import { compareOffsets as compare } from '../protocol/offset.ts';
import {
  decodeServerFrame,
  type AckFrame,
  type DirectFrame,
  type MessageFrame,
  type ErrorFrame,
  type ServerFrame,
  type TopicPresence,
  type WelcomeFrame,
} from '../protocol/frames.ts';
import { refreshDelayMs, tokenExpiryMs } from './token.ts';

export interface ClientOptions {
  /** WebSocket URLs of gateway instances (`ws://host:port/ws`); tried in turn. */
  urls: string[];
  app: string;
  /**
   * A JWT, or a function returning a fresh one. The function is called for each connection
   * attempt, and before the current token expires (read from its `exp`): the client then
   * hands the session the new one with `refresh`.
   */
  token?: string | (() => string | Promise<string>);
  /** With a token function: refresh the session's token before its `exp` (false: let it close with 4003 and reconnect). @default true */
  refreshTokens?: boolean;
  /** With a token function: ask for the next token this long before `exp` (at most half of what is left). @default 30000 */
  tokenRefreshMarginMs?: number;
  /** First reconnect delay. @default 100 */
  minReconnectDelayMs?: number;
  /** Reconnect delays double up to this. @default 5000 */
  maxReconnectDelayMs?: number;
  /** How long a request waits for its reply. @default 10000 */
  requestTimeoutMs?: number;
  /** A WebSocket constructor, where the global one is missing. */
  WebSocket?: typeof WebSocket;
}

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A message of a subscribed topic (`topic`, `offset`, `data`): `data` is the JSON value, or a Uint8Array for bytes. */
export type Message = MessageFrame;

/** A direct message to this client's user (`messageId`, `from`, `data`); `from` is null for the server API and the bridge. */
export type DirectMessage = DirectFrame;

export interface PresenceEvent {
  topic: string;
  user: string;
}

export interface StateDetail {
  instanceId?: string;
  closeCode?: number;
  /**
   * On `open`: false when something could not be recovered on this connection: a topic that
   * history no longer covered (see `gap`), or jobs lost because the session could not be
   * resumed. True on the first connection and after a complete recovery.
   */
  recovered?: boolean;
}

export interface ClientEvents {
  /** Every message of a subscribed topic, once, in offset order per topic. */
  message: (message: Message) => void;
  /** Every direct message to this client's user, once, in message ID order. */
  direct: (message: DirectMessage) => void;
  /** A user's first session subscribed to a presence topic this client holds. */
  join: (event: PresenceEvent) => void;
  /** A user's last session left a presence topic this client holds. */
  leave: (event: PresenceEvent) => void;
  /** After a reconnect, history no longer covered what this topic missed: refetch its state. */
  gap: (topic: string) => void;
  /** The user inbox at connect: `pending` unconfirmed direct messages follow; `lost`: some were dropped unconfirmed. */
  inbox: (inbox: { pending: number; lost: boolean }) => void;
  state: (state: ClientState, detail: StateDetail) => void;
  /** An error frame that answers no pending request, a failed token refresh, or a terminal close. */
  error: (error: ErrorFrame | { code: string; message: string }) => void;
}

export type MessageHandler = (message: Message) => void;
/** Ends one `subscribe()`: removes its handler, and unsubscribes topics no other subscribe() holds. */
export type Unsubscribe = () => Promise<void>;

export class RequestError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface RpcOptions {
  /** Asked of the server; the call also fails on its own this long (plus a grace) after. @default 30000 */
  timeoutMs?: number;
  onProgress?: (data: unknown) => void;
}

/** Bytes to send as a binary frame, or null for a JSON value. */
function asBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return null;
}

interface Job {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (data: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One subscribe() call: what its Unsubscribe takes back. */
interface Claim {
  handler: MessageHandler | null;
}

interface TopicState {
  /**
   * Sent as `since` when resubscribing: the newer of the last offset received and the
   * position the subscribe ack gave; null before either.
   */
  position: string | null;
  /** The newest offset received on the current connection, where messages come in offset order. */
  seen: string | null;
  /** The subscribe() calls holding the topic; the topic goes when the last one is taken back. */
  claims: Set<Claim>;
  /** The first subscribe request while it is in flight: later subscribe() calls wait for it. */
  subscribing: Promise<void> | null;
}

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Listeners = { [K in keyof ClientEvents]: Set<ClientEvents[K]> };

export class SwitchyardClient {
  private readonly topics = new Map<string, TopicState>();
  private readonly pending = new Map<string, Pending>();
  /** Jobs by request ID: they outlive a connection (the session is resumed). */
  private readonly jobs = new Map<string, Job>();
  private resumeToken: string | null = null;
  private readonly listeners: Listeners = {
    message: new Set(),
    direct: new Set(),
    join: new Set(),
    leave: new Set(),
    gap: new Set(),
    inbox: new Set(),
    state: new Set(),
    error: new Set(),
  };
  private ws: WebSocket | null = null;
  private welcome: WelcomeFrame | null = null;
  /** The token of the current session (the latest refreshed one): used to reconnect when no token function is given. */
  private token: string | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** The newest direct message ID delivered: IDs increase per user, so a replay after a reconnect is dropped. */
  private lastDirect: string | null = null;
  /** Set during a connection when something could not be recovered; reported on `open`. */
  private unrecovered = false;
  private nextId = 0;
  private urlIndex = 0;
  private attempt = 0;
  private closedByUser = false;
  private opened: { promise: Promise<void>; resolve: () => void };
  state: ClientState = 'connecting';

  constructor(private readonly options: ClientOptions) {
    if (options.urls.length === 0) throw new Error('urls: at least one');
    this.token = typeof options.token === 'string' ? options.token : undefined;
    this.opened = deferred();
    this.connect();
  }

  /** The instance this client is connected to now. */
  get instanceId(): string | null {
    return this.welcome?.instanceId ?? null;
  }

  get sessionId(): string | null {
    return this.welcome?.sessionId ?? null;
  }

  /** The user of the session (the token's `sub`); null when anonymous or not connected. */
  get userId(): string | null {
    return this.welcome?.userId ?? null;
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Resolves once the client is connected (now or after reconnecting). */
  ready(): Promise<void> {
    return this.opened.promise;
  }

  /**
   * Subscribes to one or more topics, optionally with a handler for their messages (besides
   * the `message` listeners). From then on the topics are kept across reconnects. Resolves,
   * once the server acknowledged, with the function that ends this subscription: it removes
   * the handler and unsubscribes the topics that no other subscribe() holds.
   */
  async subscribe(...args: [...topics: string[], handler: MessageHandler] | string[]): Promise<Unsubscribe> {
    const last = args.at(-1);
    const handler = typeof last === 'function' ? last : null;
    const topics = (handler ? args.slice(0, -1) : args) as string[];
    const claim: Claim = { handler };
    const fresh: string[] = [];
    const waiting: Promise<void>[] = [];
    for (const topic of topics) {
      let state = this.topics.get(topic);
      if (!state) {
        state = { position: null, seen: null, claims: new Set(), subscribing: null };
        this.topics.set(topic, state);
        fresh.push(topic);
      } else if (state.subscribing) {
        waiting.push(state.subscribing);
      }
      state.claims.add(claim);
    }
    const request = fresh.length > 0 ? this.subscribeFresh(fresh) : Promise.resolve();
    for (const topic of fresh) this.topics.get(topic)!.subscribing = request;
    try {
      await Promise.all([request, ...waiting]);
    } catch (error) {
      for (const topic of topics) this.topics.get(topic)?.claims.delete(claim);
      throw error;
    }
    return () => this.release(topics, claim);
  }

  /** Unsubscribes the topics, whatever subscribe() calls hold them (their handlers go too). */
  async unsubscribe(...topics: string[]): Promise<void> {
    for (const t of topics) this.topics.delete(t);
    await this.ready();
    await this.request({ type: 'unsubscribe', topics });
  }

  /**
   * Publishes (where the app allows client publish); resolves with the offset. `data` is a
   * JSON value, or bytes (Uint8Array, another typed array, an ArrayBuffer) sent as a binary
   * frame, which subscribers receive as a Uint8Array.
   */
  async publish(topic: string, data: unknown): Promise<string> {
    await this.ready();
    const bytes = asBytes(data);
    const ack = await this.request(bytes ? (id) => encodeBinaryPublish(id, topic, bytes) : { type: 'publish', topic, data });
    return (ack as AckFrame).offset ?? '';
  }

  /**
   * Sends a direct message to every session of `user` (where the app allows direct
   * messages); resolves with its message ID once stored in the user's inbox. `data` is a
   * JSON value or bytes, as for publish().
   */
  async send(user: string, data: unknown): Promise<string> {
    await this.ready();
    const bytes = asBytes(data);
    const ack = await this.request(bytes ? (id) => encodeBinarySend(id, user, bytes) : { type: 'send', to: user, data });
    return (ack as AckFrame).messageId ?? '';
  }

  /**
   * Confirms every direct message of this user up to and including `upTo` (a `messageId`),
   * for all the user's devices: they are not replayed on the next connect.
   */
  async received(upTo: string): Promise<void> {
    await this.ready();
    await this.request({ type: 'received', upTo });
  }

  /** Who is on a presence topic this client is subscribed to: the exact count and up to 1000 members. */
  async presence(topic: string): Promise<TopicPresence> {
    await this.ready();
    const ack = (await this.request({ type: 'presence', topic })) as AckFrame;
    return ack.presence ?? { count: 0, members: [] };
  }

  /** Which of the users have a session in the cluster (1-100 users; apps with direct messages). */
  async userStatus(users: string[]): Promise<Map<string, boolean>> {
    await this.ready();
    const ack = (await this.request({ type: 'presence', users })) as AckFrame;
    return ack.online ?? new Map();
  }

  /**
   * Runs a job on a worker and resolves with its result. Rejects with a RequestError
   * (`timeout`, `no_such_method`, `job_failed`, `resume_failed`, …). Survives reconnects.
   */
  async rpc(method: string, params?: unknown, options: RpcOptions = {}): Promise<unknown> {
    await this.ready();
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) throw new Error('not connected');
    const id = `j${++this.nextId}`;
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      // The server answers `timeout` itself; this guard covers a server that cannot.
      const timer = setTimeout(() => {
        this.jobs.delete(id);
        reject(new RequestError('timeout', `no result within ${timeoutMs} ms`));
      }, timeoutMs + 5000);
      this.jobs.set(id, { resolve, reject, onProgress: options.onProgress, timer });
      ws.send(JSON.stringify({ type: 'rpc', id, method, params: params ?? null, timeoutMs }));
    });
  }

  /**
   * Hands the session a fresh token before its current one expires (the server closes an
   * expired session with 4003). Same `sub`; its permissions replace the old ones: topics
   * they no longer allow are dropped (reported to `error` listeners with code `forbidden`).
   * Rejects with a RequestError (`unauthorized`, `forbidden`) when the server refuses it.
   * With a token function the client does this on its own before `exp`.
   */
  async refresh(token: string): Promise<void> {
    await this.ready();
    await this.request({ type: 'refresh', token });
    this.token = token;
    this.scheduleRefresh(token);
  }

  /**
   * Where this client resumes a topic from: the offset of the last message received, or the
   * position its subscribe ack gave when that is newer (null until either).
   */
  offset(topic: string): string | null {
    return this.topics.get(topic)?.position ?? null;
  }

  close(): void {
    this.closedByUser = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.setState('closed', {});
    this.ws?.close(1000, 'client closed');
    this.failPending(new Error('client closed'));
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer);
      job.reject(new Error('client closed'));
    }
    this.jobs.clear();
  }

  private async subscribeFresh(topics: string[]): Promise<void> {
    try {
      await this.ready();
      this.onSubscribed(await this.request({ type: 'subscribe', topics }));
    } catch (error) {
      // Refused by the server (a bad name, the subscription limit, forbidden): not kept, the
      // topics would make every resubscribe after a reconnect fail the same way. (After a
      // lost connection they stay: the resubscribe carries them.)
      if (error instanceof RequestError && error.code !== 'timeout') for (const t of topics) this.topics.delete(t);
      throw error;
    } finally {
      for (const t of topics) {
        const state = this.topics.get(t);
        if (state) state.subscribing = null;
      }
    }
  }

  private async release(topics: string[], claim: Claim): Promise<void> {
    const gone: string[] = [];
    for (const topic of topics) {
      const state = this.topics.get(topic);
      if (!state?.claims.delete(claim)) continue;
      if (state.claims.size === 0) {
        this.topics.delete(topic);
        gone.push(topic);
      }
    }
    if (gone.length === 0 || this.state === 'closed') return;
    await this.ready();
    await this.request({ type: 'unsubscribe', topics: gone });
  }

  /**
   * One connection attempt. A failure before the socket exists (the token provider rejects,
   * the URL or the WebSocket constructor throws) gets no close event: it schedules the next
   * attempt itself, with the same backoff.
   */
  private connect(): void {
    this.open().catch(() => {
      if (this.closedByUser) return;
      this.setState('reconnecting', {});
      this.retryLater();
    });
  }

  private async open(): Promise<void> {
    if (this.closedByUser) return;
    const base = this.options.urls[this.urlIndex % this.options.urls.length]!;
    const url = new URL(base);
    url.searchParams.set('app', this.options.app);
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.token;
    if (this.closedByUser) return;
    this.token = token || undefined;
    if (token) url.searchParams.set('token', token);
    if (this.resumeToken && this.jobs.size > 0) url.searchParams.set('resume', this.resumeToken);
    const Ws = this.options.WebSocket ?? globalThis.WebSocket;
    const ws = new Ws(url.toString());
    // Binary frames (bytes messages) arrive as ArrayBuffer in every runtime (Node's default is Blob).
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') this.onFrame(decodeServerFrame(event.data));
      else if (event.data instanceof ArrayBuffer) {
        const decoded = decodeServerBinary(event.data);
        // A malformed binary frame is dropped like a malformed text frame.
        this.onFrame(decoded.ok ? decoded.frame : null);
      }
    };
    ws.onclose = (event) => this.onClose(ws, event.code);
  }

  private onFrame(frame: ServerFrame | null): void {
    if (!frame) return;
    switch (frame.type) {
      case 'welcome':
        this.welcome = frame;
        this.resumeToken = frame.resumeToken ?? null;
        this.unrecovered = false;
        if (frame.resumed === false && this.jobs.size > 0) {
          this.unrecovered = true;
          this.failJobs('session could not be resumed; job results are lost');
        }
        if (frame.inbox) {
          if (frame.inbox.lost) this.unrecovered = true;
          for (const l of this.listeners.inbox) l({ pending: frame.inbox.pending, lost: frame.inbox.lost === true });
        }
        this.attempt = 0;
        for (const state of this.topics.values()) state.seen = null;
        if (this.token) this.scheduleRefresh(this.token);
        void this.resubscribe();
        break;
      case 'message': {
        const state = this.topics.get(frame.topic);
        if (state === undefined) return;
        // Per connection, a topic's messages come in offset order, each once: drop anything else.
        // (Not compared with the position: after `since` from a store that lost its data, the
        // server goes on below it, and says so with `recovered: false`.)
        if (state.seen !== null && compare(frame.offset, state.seen) <= 0) return;
        state.seen = frame.offset;
        state.position = frame.offset;
        for (const l of this.listeners.message) l(frame);
        for (const claim of state.claims) claim.handler?.(frame);
        break;
      }
      case 'direct': {
        // Unconfirmed messages are replayed on every connect; the app has had them once.
        if (this.lastDirect !== null && compare(frame.messageId, this.lastDirect) <= 0) return;
        this.lastDirect = frame.messageId;
        for (const l of this.listeners.direct) l(frame);
        break;
      }
      case 'join':
      case 'leave': {
        const event: PresenceEvent = { topic: frame.topic, user: frame.user };
        for (const l of this.listeners[frame.type]) l(event);
        break;
      }
      case 'resumeToken':
        this.resumeToken = frame.resumeToken;
        break;
      case 'unsubscribed':
        // Not resubscribed after a reconnect: the server took them away.
        for (const topic of frame.topics) this.topics.delete(topic);
        for (const l of this.listeners.error) l({ code: frame.reason, message: `unsubscribed by the server: ${frame.topics.join(' ')}` });
        break;
      case 'progress': {
        this.jobs.get(frame.id)?.onProgress?.(frame.data);
        break;
      }
      case 'result': {
        const job = this.jobs.get(frame.id);
        if (!job) return;
        this.jobs.delete(frame.id);
        clearTimeout(job.timer);
        job.resolve(frame.result);
        break;
      }
      case 'ack':
      case 'pong':
      case 'error': {
        if (frame.type === 'error' && frame.id !== null) {
          const job = this.jobs.get(frame.id);
          if (job) {
            this.jobs.delete(frame.id);
            clearTimeout(job.timer);
            job.reject(new RequestError(frame.code, frame.message));
            return;
          }
        }
        const waiting = frame.id === null ? undefined : this.pending.get(frame.id);
        if (!waiting) {
          if (frame.type === 'error') for (const l of this.listeners.error) l(frame);
          return;
        }
        this.pending.delete(frame.id!);
        clearTimeout(waiting.timer);
        if (frame.type === 'error') waiting.reject(new RequestError(frame.code, frame.message));
        else waiting.resolve(frame);
        break;
      }
    }
  }

  /** After (re)connecting: subscribe to every topic again, from its position. */
  private async resubscribe(): Promise<void> {
    const topics = [...this.topics.keys()];
    try {
      if (topics.length > 0) {
        const since: [string, string][] = [];
        for (const [t, { position }] of this.topics) if (position !== null) since.push([t, position]);
        // Object.fromEntries: a topic named `__proto__` becomes a key like any other.
        this.onSubscribed(await this.request({ type: 'subscribe', topics, ...(since.length > 0 ? { since: Object.fromEntries(since) } : {}) }));
      }
      this.setState('open', { instanceId: this.welcome?.instanceId, recovered: !this.unrecovered });
      this.opened.resolve();
    } catch (error) {
      // The connection failed mid-resubscribe; onClose schedules the next attempt.
      void error;
    }
  }

  /** Takes the positions of a subscribe ack, and reports the topics history could not cover. */
  private onSubscribed(reply: ServerFrame): void {
    const ack = reply as AckFrame;
    if (ack.offsets) {
      for (const [topic, position] of ack.offsets) {
        const state = this.topics.get(topic);
        // Live messages can arrive before the ack: keep the newer.
        if (state) state.position = state.seen !== null && compare(state.seen, position) > 0 ? state.seen : position;
      }
    }
    if (ack.recovered) {
      for (const [topic, ok] of ack.recovered) {
        if (ok || !this.topics.has(topic)) continue;
        this.unrecovered = true;
        for (const l of this.listeners.gap) l(topic);
      }
    }
  }

  /** Asks the token function for the next token before `token` expires, and refreshes the session with it. */
  private scheduleRefresh(token: string): void {
    const provider = this.options.token;
    if (typeof provider !== 'function' || this.options.refreshTokens === false) return;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const expiry = tokenExpiryMs(token);
    if (expiry === null) return;
    const delay = refreshDelayMs(expiry, Date.now(), this.options.tokenRefreshMarginMs ?? 30_000);
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = null;
      if (this.closedByUser || this.state !== 'open') return;
      try {
        await this.refresh(await provider());
      } catch (error) {
        // The session goes on with its old token; if that expires, the server closes with
        // 4003 and the reconnect asks the token function again.
        const code = error instanceof RequestError ? error.code : 'refresh_failed';
        for (const l of this.listeners.error) l({ code, message: `token refresh failed: ${error instanceof Error ? error.message : String(error)}` });
      }
    }, delay);
  }

  private onClose(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.welcome = null;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.failPending(new Error(`connection closed (${code})`));
    if (this.closedByUser) return;
    if (!shouldReconnect(code) && code !== 1000) {
      this.setState('closed', { closeCode: code });
      for (const l of this.listeners.error) l({ code: String(code), message: 'connection refused for good (terminal close code)' });
      return;
    }
    if (this.state === 'open') this.opened = deferred();
    this.setState('reconnecting', { closeCode: code });
    this.retryLater();
  }

  /** Schedules the next attempt, on the next URL, after a capped exponential backoff. */
  private retryLater(): void {
    this.urlIndex += 1;
    const max = this.options.maxReconnectDelayMs ?? 5000;
    const min = this.options.minReconnectDelayMs ?? 100;
    // Full jitter: spread the reconnects of many clients after an instance goes away.
    const delay = Math.random() * Math.min(max, min * 2 ** this.attempt);
    this.attempt += 1;
    setTimeout(() => this.connect(), delay);
  }

  /** Sends a request (a JSON frame, or a binary frame built around its ID) and waits for the reply with that ID. */
  private request(frame: Record<string, unknown> | ((id: string) => Uint8Array<ArrayBuffer>)): Promise<ServerFrame> {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return Promise.reject(new Error('not connected'));
    const id = `c${++this.nextId}`;
    const what = typeof frame === 'function' ? 'a binary frame' : String(frame.type);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError('timeout', `no reply to ${what} within the request timeout`));
      }, this.options.requestTimeoutMs ?? 10_000);
      this.pending.set(id, { resolve, reject, timer });
      try {
        ws.send(typeof frame === 'function' ? frame(id) : JSON.stringify({ ...frame, id }));
      } catch (error) {
        // A binary field over its length prefix (RangeError): nothing was sent.
        this.pending.delete(id);
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private failJobs(reason: string): void {
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer);
      job.reject(new RequestError('resume_failed', reason));
    }
    this.jobs.clear();
  }

  private failPending(error: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }

  private setState(state: ClientState, detail: StateDetail): void {
    if (this.state === state && state !== 'open') return;
    this.state = state;
    for (const l of this.listeners.state) l(state, detail);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
