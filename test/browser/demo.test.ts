/**
 * The demo page at `/` in headless Chromium, on a gateway process in demo mode (no APPS): it
 * runs on the SDK the gateway bundles (/demo/sdk.js). Two pages are two users (tokens from
 * /demo/token): the room's presence shows both on each page; a direct message goes from one
 * to the other; a message published through the server API shows on both; an image (bytes)
 * sent from one page shows on the other (needs the gateway side of binary frames).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { waitFor } from '../../src/lib/waitFor.ts';
import { launchChromium, type Browser } from '../support/browser.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';

const DEMO_SECRET = 'demo-secret-not-for-production';
let gateway: GatewayProcess;
let browser: Browser;
let alice: Page;
let bob: Page;
let base: string;

const texts = (page: Page, selector: string): Promise<string[]> => page.locator(selector).allTextContents();

beforeAll(async () => {
  gateway = await spawnGateway({});
  base = `http://127.0.0.1:${gateway.port}`;
  browser = await launchChromium();
  alice = await browser.context.newPage();
  bob = await browser.context.newPage();
  await alice.goto(`${base}/?user=alice`);
  await bob.goto(`${base}/?user=bob`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
});

test('the token route: a demo token for a valid user, 400 for another shape', async () => {
  const ok = await fetch(`${base}/demo/token?user=alice`);
  expect(ok.status).toBe(200);
  const { token } = (await ok.json()) as { token: string };
  expect(JSON.parse(atob(token.split('.')[1]!))).toMatchObject({ sub: 'alice' });
  const bad = await fetch(`${base}/demo/token?user=${encodeURIComponent('no spaces')}`);
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
});

test('two users: each page shows both in the room, and a direct message goes from one to the other', async () => {
  for (const page of [alice, bob]) {
    await waitFor(async () => (await page.locator('#status').textContent()) === 'open', { timeoutMs: 10_000, what: 'the page to connect' });
    await waitFor(async () => (await page.locator('#members li').evaluateAll((els) => els.map((e) => e.getAttribute('data-user')).sort().join(','))) === 'alice,bob', {
      timeoutMs: 10_000,
      what: 'both users in the room',
    });
  }
  expect(await alice.locator('#me').textContent()).toBe('alice');
  expect(await alice.locator('#count').textContent()).toBe('2');

  await alice.fill('#to', 'bob');
  await alice.fill('#text', 'hello bob');
  await alice.click('#send');
  await waitFor(async () => (await texts(bob, '#directs li[data-from="alice"]')).length === 1, { what: "alice's message on bob's page" });
  expect(await texts(bob, '#directs li[data-from="alice"]')).toEqual(['alice: {"text":"hello bob"}']);
  // Alice's page lists it once the send is acknowledged, which may come after bob has it.
  await waitFor(async () => (await texts(alice, '#directs li[data-to="bob"]')).length === 1, { what: "the sent message on alice's page" });
  expect(await texts(alice, '#directs li[data-to="bob"]')).toEqual(['to bob: {"text":"hello bob"}']);
});

test('a message published through the server API shows on both pages', async () => {
  const res = await fetch(`${base}/api/apps/demo/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 'news', data: { headline: 'from the server' } }),
  });
  const { offset } = (await res.json()) as { offset: string };
  for (const page of [alice, bob]) {
    await waitFor(async () => (await texts(page, '#news li')).includes(`${offset}  {"headline":"from the server"}`), { what: 'the news item' });
  }
});

test('an image sent from one page shows on the other (needs the gateway side of binary frames)', async () => {
  await alice.click('#image');
  await waitFor(async () => (await bob.locator('#images img').count()) === 1, { timeoutMs: 10_000, what: "the image on bob's page" });
  // The bytes made a PNG the browser could decode.
  const width = await bob.locator('#images img').evaluate(async (img: HTMLImageElement) => {
    await img.decode();
    return img.naturalWidth;
  });
  expect(width).toBe(16);
});
