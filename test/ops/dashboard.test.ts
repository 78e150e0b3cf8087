/**
 * /dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core) against
 * two real gateway processes on Redis under a small load: without a token the page and its
 * event stream answer 401; with `?token=` once the browser gets a cookie and the page, which
 * shows both instances with the figures their /metrics report (sessions, topics), deliveries
 * per second above zero while messages flow, and a probe round trip. A screenshot is kept in
 * test/artifacts/dashboard.png. scripts/services.sh installs Chromium (as root), or the test fails.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from '../../src/lib/waitFor.ts';
import { publishHttp, APP_A } from '../support/gateway.ts';
import { TestCluster, type ClusterInstance } from '../support/cluster.ts';
import { scrape } from '../support/metrics.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
const OPERATOR_TOKEN = 'operator-token-for-the-dashboard-test';
const prefix = uniquePrefix('dashboard');
const cluster = new TestCluster(prefix, { APPS: JSON.stringify([APP_A]), HEARTBEAT_INTERVAL_MS: '200', PROBE_INTERVAL_MS: '200', OPERATOR_TOKEN, DRAIN_TIMEOUT_MS: '500' });
const profile = mkdtempSync(join(tmpdir(), 'sy-dashboard-'));
let context: BrowserContext | null = null;
const clients: WsClient[] = [];

beforeAll(() => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/services.sh chromium (as root it installs Debian's chromium)`);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
  await cluster.dispose();
});

/** The figure the page shows for one instance (`field` is a data-field of its row). */
function shown(page: Page, instance: string, field: string): Promise<string | null> {
  return page.locator(`tr[data-instance="${instance}"] td[data-field="${field}"]`).textContent({ timeout: 1000 }).catch(() => null);
}

test('the dashboard shows both instances with the figures of their /metrics, live', async () => {
  await requireRedis();
  const [one, two] = (await cluster.startAll(['db-1', 'db-2'])) as [ClusterInstance, ClusterInstance];

  for (const path of ['/dashboard', '/dashboard/events', '/dashboard?token=wrong-token-0123456789']) {
    expect((await fetch(`${one.http}${path}`, { redirect: 'manual' })).status).toBe(401);
  }

  for (const [instance, n] of [[one, 3], [two, 2]] as const) {
    for (let i = 0; i < n; i++) {
      const c = await WsClient.open(instance.wsUrl(APP_A.id));
      clients.push(c);
      expect((await c.request({ type: 'subscribe', topics: ['load', `own-${instance.id}`] })).type).toBe('ack');
    }
  }
  // A small load while the page is open: a message every 20 ms.
  let publishing = true;
  const load = (async () => {
    for (let n = 0; publishing; n++) {
      await publishHttp(one.http, APP_A, 'load', { n });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const page = await context.newPage();
    const response = await page.goto(`${one.http}/dashboard?token=${OPERATOR_TOKEN}`);
    expect(response?.status()).toBe(200);
    // The token went into a cookie; the address bar no longer shows it.
    expect(page.url()).toBe(`${one.http}/dashboard`);

    for (const instance of [one, two]) {
      await waitFor(
        async () => {
          const metrics = await scrape(instance.http);
          return (
            (await shown(page, instance.id, 'sessions')) === String(metrics.get(`switchyard_sessions{app="${APP_A.id}"}`)) &&
            (await shown(page, instance.id, 'topics')) === String(metrics.get('switchyard_topics')) &&
            Number(await shown(page, instance.id, 'rate')) > 0 &&
            /^\d+ ms$/.test((await shown(page, instance.id, 'probe')) ?? '') &&
            (await shown(page, instance.id, 'health')) === 'ready'
          );
        },
        { timeoutMs: 15_000, what: `the page's row for ${instance.id} to match its /metrics` },
      );
    }
    expect(await shown(page, 'db-1', 'sessions')).toBe('3');
    expect(await shown(page, 'db-2', 'sessions')).toBe('2');
    expect(await shown(page, 'db-1', 'topics')).toBe('2');
    expect(await shown(page, 'db-2', 'region')).toBe('local');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // The cookie opens the page again without the token.
    expect((await page.goto(`${one.http}/dashboard`))?.status()).toBe(200);
  } finally {
    publishing = false;
    await load;
  }
}, 90_000);
