/**
 * A large replay is paced by the socket's backpressure: eight clients that read promptly
 * resubscribe at once to a topic of 1,000 messages of 30 KB (30 MB each, past the runtime's
 * hard cut at twice SEND_BUFFER_LIMIT_BYTES), and none is cut. Live messages published during
 * the replays still reach every client after its replay, once and in order.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, startGateway, type TestGateway } from '../support/gateway.ts';

const HISTORY_MESSAGES = 1000;
const LIVE_MESSAGES = 50;
const CLIENTS = 8;
const PAD = 'x'.repeat(30_000);

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(backend, { HISTORY_SIZE: '2000' });
  });
  afterAll(() => gw.stop());

  /**
   * A client that keeps only what the test checks (offset and number of each message), not
   * the 30 MB of payload per client, and reads every frame as it comes.
   */
  class LeanClient {
    readonly offsets: string[] = [];
    readonly numbers: number[] = [];
    ack: Record<string, unknown> | null = null;
    closeCode: number | null = null;
    private constructor(readonly ws: WebSocket) {
      ws.addEventListener('message', (e) => {
        const frame = JSON.parse(String(e.data)) as { type: string; offset?: string; data?: { n: number } };
        if (frame.type === 'message') {
          this.offsets.push(frame.offset!);
          this.numbers.push(frame.data!.n);
        } else if (frame.type === 'ack') {
          this.ack = frame;
        }
      });
      ws.addEventListener('close', (e) => (this.closeCode = e.code));
    }

    static async open(url: string): Promise<LeanClient> {
      const ws = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener('open', () => resolve(), { once: true });
        ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
      });
      return new LeanClient(ws);
    }
  }

  test('eight prompt readers replaying 1,000 x 30 KB at once are never cut, and get every message once, in order', async () => {
    const topic = 'big-replay';
    const publish = (n: number, pad: string) => gw.gateway.publisher.publish(APP_A.id, topic, { n, pad });
    const since = await publish(-1, '');
    const offsets: string[] = [];
    for (let n = 0; n < HISTORY_MESSAGES; n++) offsets.push(await publish(n, PAD));

    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => LeanClient.open(gw.wsUrl(APP_A.id))));
    try {
      for (const c of clients) c.ws.send(JSON.stringify({ type: 'subscribe', id: 's', topics: [topic], since: { [topic]: since } }));
      // Live messages while the replays run: one each time the clients together took another 160.
      const received = () => clients.reduce((sum, c) => sum + c.numbers.length, 0);
      for (let k = 0; k < LIVE_MESSAGES; k++) {
        await waitFor(() => received() >= k * 160 || clients.some((c) => c.closeCode !== null), { timeoutMs: 45_000, what: `replay progress before live message ${k}` });
        offsets.push(await publish(HISTORY_MESSAGES + k, ''));
      }
      const total = HISTORY_MESSAGES + LIVE_MESSAGES;
      await waitFor(() => clients.every((c) => c.numbers.length >= total || c.closeCode !== null), { timeoutMs: 45_000, what: 'every client to receive everything' });

      expect(clients.map((c) => c.closeCode)).toEqual(clients.map(() => null));
      for (const c of clients) {
        expect(c.ack).toMatchObject({ type: 'ack', id: 's', recovered: { [topic]: true } });
        expect(c.numbers).toEqual(Array.from({ length: total }, (_, i) => i));
        expect(c.offsets).toEqual(offsets);
      }
    } finally {
      for (const c of clients) c.ws.close();
    }
  }, 90_000);
});
