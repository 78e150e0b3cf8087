/**
 * The page of the SDK receive benchmark (bench/sdkReceive.ts): an app that imports the SDK by
 * its package name, subscribes to one topic and counts what the SDK hands it, with the time
 * of the first and the last message (performance.now(), in the page).
 */
import { SwitchyardClient } from 'switchyard/client';

export interface ReceiveBench {
  count: number;
  firstAtMs: number;
  lastAtMs: number;
  /** Bytes handed to the app (payload length of binary messages; 0 for JSON). */
  bytes: number;
  start(url: string, topic: string): Promise<void>;
}

const bench: ReceiveBench = {
  count: 0,
  firstAtMs: 0,
  lastAtMs: 0,
  bytes: 0,
  async start(url, topic) {
    const client = new SwitchyardClient({ urls: [url], app: 'demo' });
    await client.subscribe(topic, (m) => {
      const now = performance.now();
      if (this.count === 0) this.firstAtMs = now;
      this.lastAtMs = now;
      this.count += 1;
      if (m.data instanceof Uint8Array) this.bytes += m.data.byteLength;
    });
  },
};

(window as unknown as { bench: ReceiveBench }).bench = bench;
document.title = 'bench ready';
