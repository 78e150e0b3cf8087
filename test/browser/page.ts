/**
 * The page of the browser tests: an app that imports the SDK by its package name, bundled with
 * Bun.build and run in Chromium. The tests drive it through `window.harness` (page.evaluate)
 * and read back what the app was handed: messages (bytes as number arrays, marked binary),
 * states and gaps.
 */
import { SwitchyardClient, type Message } from 'switchyard/client';

export interface Received {
  topic: string;
  offset: string;
  binary: boolean;
  /** The JSON value, or the bytes as numbers for a binary message. */
  data: unknown;
}

export interface Harness {
  client: SwitchyardClient | null;
  received: Received[];
  states: string[];
  gaps: string[];
  start(urls: string[], app: string): Promise<string | null>;
  subscribe(topic: string): Promise<void>;
  publishBytes(topic: string, bytes: number[]): Promise<string>;
  rpc(method: string, params: unknown): Promise<{ result: unknown; progress: unknown[] }>;
  /** Counts what the app is handed per second, for the receive benchmark (no copy kept). */
  count(topic: string): Promise<void>;
  counted: number;
}

const harness: Harness = {
  client: null,
  received: [],
  states: [],
  gaps: [],
  counted: 0,
  async start(urls, app) {
    const client = new SwitchyardClient({ urls, app, minReconnectDelayMs: 50, maxReconnectDelayMs: 500 });
    this.client = client;
    client.on('state', (state, detail) => this.states.push(`${state}${detail.instanceId ? `@${detail.instanceId}` : ''}${detail.recovered === false ? ' unrecovered' : ''}`));
    client.on('gap', (topic) => this.gaps.push(topic));
    await client.ready();
    return client.instanceId;
  },
  async subscribe(topic) {
    await this.client!.subscribe(topic, (m: Message) => {
      const binary = m.data instanceof Uint8Array;
      this.received.push({ topic: m.topic, offset: m.offset, binary, data: binary ? Array.from(m.data as Uint8Array) : m.data });
    });
  },
  publishBytes(topic, bytes) {
    return this.client!.publish(topic, new Uint8Array(bytes));
  },
  async rpc(method, params) {
    const progress: unknown[] = [];
    const result = await this.client!.rpc(method, params, { onProgress: (p) => progress.push(p), timeoutMs: 15_000 });
    return { result, progress };
  },
  async count(topic) {
    await this.client!.subscribe(topic, () => {
      this.counted += 1;
    });
  },
};

(window as unknown as { harness: Harness }).harness = harness;
document.title = 'harness ready';
