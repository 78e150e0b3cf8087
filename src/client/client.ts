/**
 * The TypeScript client SDK (browsers, Bun, Node 22+): one logical connection to a Switchyard
 * cluster that survives instance restarts. It reconnects with exponential backoff and jitter,
 * rotating through the given URLs, resubscribes every topic with `since` = its position (the
 * last offset it saw, or the position the subscribe ack gave, so that a topic with no message
 * yet resumes too), and tells the application when history could not cover a gap. Jobs
 * (`rpc`) survive reconnects: the client resumes its session with the token from `welcome`,
 * so results of jobs started before a disconnect still arrive. Topics are kept in Maps only.
 * Imports only protocol/.
 */
import { shouldReconnect } from '../protocol/codes.ts';
import { compareOffsets as compare } from '../protocol/offset.ts';
import { decodeServerFrame, type AckFrame, type ErrorFrame, type MessageFrame, type ServerFrame, type WelcomeFrame } from '../protocol/frames.ts';

export interface ClientOptions {
  /** WebSocket URLs of gateway instances (`ws://host:port/ws`); tried in turn. */
  urls: string[];
  app: string;
  /** A JWT, or a function returning a fresh one for each connection attempt. */
  token?: string | (() => string | Promise<string>);
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

export interface ClientEvents {
  /** Every message of a subscribed topic, once, in offset order per topic. */
  message: (message: MessageFrame) => void;
  /** After a reconnect, history no longer covered what this topic missed: refetch its state. */
  gap: (topic: string) => void;
  state: (state: ClientState, detail: { instanceId?: string; closeCode?: number }) => void;
  /** An error frame that answers no pending request, or a terminal close. */
  error: (error: ErrorFrame | { code: string; message: string }) => void;
}

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

interface Job {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (data: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface TopicState {
  /**
   * Sent as `since` when resubscribing: the newer of the last offset received and the
   * position the subscribe ack gave; null before either.
   */
  position: string | null;
  /** The newest offset received on the current connection, where messages come in offset order. */
  seen: string | null;
}

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class SwitchyardClient {
  private readonly topics = new Map<string, TopicState>();
  private readonly pending = new Map<string, Pending>();
  /** Jobs by request ID: they outlive a connection (the session is resumed). */
  private readonly jobs = new Map<string, Job>();
  private resumeToken: string | null = null;
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    message: new Set(),
    gap: new Set(),
    state: new Set(),
    error: new Set(),
  };
  private ws: WebSocket | null = null;
  private welcome: WelcomeFrame | null = null;
  private nextId = 0;
  private urlIndex = 0;
  private attempt = 0;
  private closedByUser = false;
  private opened: { promise: Promise<void>; resolve: () => void };
  state: ClientState = 'connecting';

  constructor(private readonly options: ClientOptions) {
    if (options.urls.length === 0) throw new Error('urls: at least one');
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

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Resolves once the client is connected (now or after reconnecting). */
  ready(): Promise<void> {
    return this.opened.promise;
  }

  /** Subscribes; from then on the topics are kept across reconnects. */
  async subscribe(...topics: string[]): Promise<void> {
    const fresh = topics.filter((t) => !this.topics.has(t));
    const states = fresh.map((t) => {
      const state: TopicState = { position: null, seen: null };
      this.topics.set(t, state);
      return state;
    });
    if (fresh.length === 0) return;
    await this.ready();
    try {
      this.onSubscribed(await this.request({ type: 'subscribe', topics: fresh }));
    } catch (error) {
      // Refused by the server (a bad name, the subscription limit): kept, the topics would
      // make every resubscribe after a reconnect fail the same way. (After a lost connection
      // they stay: the resubscribe carries them.)
      if (error instanceof RequestError && error.code !== 'timeout') {
        fresh.forEach((t, i) => {
          if (this.topics.get(t) === states[i]) this.topics.delete(t);
        });
      }
      throw error;
    }
  }

  async unsubscribe(...topics: string[]): Promise<void> {
    for (const t of topics) this.topics.delete(t);
    await this.ready();
    await this.request({ type: 'unsubscribe', topics });
  }

  /** Publishes (where the app allows client publish); resolves with the offset. */
  async publish(topic: string, data: unknown): Promise<string> {
    await this.ready();
    const ack = await this.request({ type: 'publish', topic, data });
    return (ack as { offset?: string }).offset ?? '';
  }

  /**
   * Runs a job on a worker and resolves with its result. Rejects with a RequestError
   * (`timeout`, `no_such_method`, `job_failed`, …). Survives reconnects.
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
   */
  async refresh(token: string): Promise<void> {
    await this.ready();
    await this.request({ type: 'refresh', token });
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
    this.setState('closed', {});
    this.ws?.close(1000, 'client closed');
    this.failPending(new Error('client closed'));
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer);
      job.reject(new Error('client closed'));
    }
    this.jobs.clear();
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
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    if (this.closedByUser) return;
    if (token) url.searchParams.set('token', token);
    if (this.resumeToken && this.jobs.size > 0) url.searchParams.set('resume', this.resumeToken);
    const Ws = this.options.WebSocket ?? globalThis.WebSocket;
    const ws = new Ws(url.toString());
    this.ws = ws;
    ws.onmessage = (event) => this.onFrame(String(event.data));
    ws.onclose = (event) => this.onClose(ws, event.code);
  }

  private onFrame(text: string): void {
    const frame = decodeServerFrame(text);
    if (!frame) return;
    switch (frame.type) {
      case 'welcome':
        this.welcome = frame;
        this.resumeToken = frame.resumeToken ?? null;
        if (frame.resumed === false) this.failJobs('session could not be resumed; job results are lost');
        this.attempt = 0;
        for (const state of this.topics.values()) state.seen = null;
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
      this.setState('open', { instanceId: this.welcome?.instanceId });
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
    if (ack.recovered) for (const [topic, ok] of ack.recovered) if (!ok && this.topics.has(topic)) for (const l of this.listeners.gap) l(topic);
  }

  private onClose(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.welcome = null;
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

  private request(frame: Record<string, unknown>): Promise<ServerFrame> {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return Promise.reject(new Error('not connected'));
    const id = `c${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError('timeout', `no reply to ${String(frame.type)} within the request timeout`));
      }, this.options.requestTimeoutMs ?? 10_000);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...frame, id }));
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

  private setState(state: ClientState, detail: { instanceId?: string; closeCode?: number }): void {
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
