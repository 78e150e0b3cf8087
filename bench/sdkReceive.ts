/**
 * The SDK's own cost in a browser: messages per second one headless Chromium tab receives and
 * hands to the app through `switchyard/client` (the package entry point, bundled with
 * Bun.build), from one gateway in demo mode on loopback.
 *
 *   bun run bench:sdk [--messages 200000] [--bytes 100] [--publishers 4] [--binary] [--quick]
 *
 * Publisher connections (SwitchyardClient in this process, up to 256 publishes in flight
 * each) publish `--messages` messages of about `--bytes` bytes (a JSON string, or with
 * `--binary` a Uint8Array sent as a binary frame: that needs the gateway side of binary frames)
 * to one topic the tab subscribes to. The rate is the tab's: messages handed to the app
 * between the first and the last, divided by that time. The publish rate is printed too:
 * when the tab keeps up with it (within 5 %), the figure is a lower bound (publisher-bound),
 * and more publishers are needed to find the tab's limit. Ends with one JSON line.
 * `--quick`: 20,000 messages, to check that it runs. Needs /usr/bin/chromium (bash
 * scripts/services.sh chromium) and loopback only.
 */
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { SwitchyardClient } from '../src/client/index.ts';
import { buildPackage, bundle, launchChromium, serveBundle } from '../test/support/browser.ts';
import { startServer } from './servers.ts';
import type { ReceiveBench } from './sdk/receivePage.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    bytes: { type: 'string', default: '100' },
    publishers: { type: 'string', default: '4' },
    binary: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
const MESSAGES = values.quick ? 20_000 : Number(values.messages);
const BYTES = Number(values.bytes);
const PUBLISHERS = Number(values.publishers);
const IN_FLIGHT = 256;
const TOPIC = 'bench.sdk';
if (!(MESSAGES > 0 && BYTES > 0 && PUBLISHERS > 0)) {
  console.error('bench:sdk: --messages, --bytes and --publishers take positive numbers');
  process.exit(2);
}

const read = <T>(page: Page, fn: (b: ReceiveBench) => T): Promise<T> =>
  page.evaluate((source) => new Function('b', `return (${source})(b)`)((window as unknown as { bench: ReceiveBench }).bench), fn.toString()) as Promise<T>;

async function publishAll(url: string): Promise<{ seconds: number }> {
  const clients = Array.from({ length: PUBLISHERS }, () => new SwitchyardClient({ urls: [url], app: 'demo' }));
  await Promise.all(clients.map((c) => c.ready()));
  const data: unknown = values.binary ? new Uint8Array(BYTES).fill(7) : 'x'.repeat(Math.max(1, BYTES - 2));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.flatMap((client) =>
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < MESSAGES) {
          next += 1;
          await client.publish(TOPIC, data);
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const c of clients) c.close();
  return { seconds };
}

await buildPackage();
const site = serveBundle(await bundle(new URL('./sdk/receivePage.ts', import.meta.url).pathname), 'switchyard sdk receive bench');
const server = await startServer('switchyard', '/dev/null');
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => document.title === 'bench ready');
  await page.evaluate(([url, topic]) => (window as unknown as { bench: ReceiveBench }).bench.start(url!, topic!), [server.wsUrl.split('?')[0]!, TOPIC]);
  console.log(`bench:sdk: ${MESSAGES} ${values.binary ? 'binary' : 'JSON'} messages of ~${BYTES} bytes from ${PUBLISHERS} publishers to one Chromium tab`);
  const published = await publishAll(server.wsUrl.split('?')[0]!);
  const deadline = Date.now() + 120_000;
  while ((await read(page, (b) => b.count)) < MESSAGES) {
    server.assertAlive();
    if (Date.now() > deadline) throw new Error(`the tab got ${await read(page, (b) => b.count)} of ${MESSAGES} messages within 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const { count, firstAtMs, lastAtMs } = await read(page, (b) => ({ count: b.count, firstAtMs: b.firstAtMs, lastAtMs: b.lastAtMs }));
  const receivePerSec = Math.round((count - 1) / ((lastAtMs - firstAtMs) / 1000));
  const publishPerSec = Math.round(MESSAGES / published.seconds);
  const publisherBound = receivePerSec >= publishPerSec * 0.95;
  console.log(`tab: ${receivePerSec} msg/s handed to the app; publishers: ${publishPerSec} msg/s${publisherBound ? ' (the tab kept up: a lower bound, add --publishers)' : ''}`);
  console.log(JSON.stringify({ scenario: 'sdk-receive', messages: count, bytes: BYTES, binary: values.binary, publishers: PUBLISHERS, receivePerSec, publishPerSec, publisherBound }));
} finally {
  await browser.close();
  site.stop();
  await server.stop();
}
process.exit(0);
