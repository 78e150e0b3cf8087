/**
 * Tokens and the client SDK: `refresh()` replaces the session's permissions (topics no
 * longer allowed are dropped and reported); with a token function the client refreshes the
 * session before the token's `exp`, on the same session; with that turned off, a session
 * closed with 4003 (token expired) reconnects with a fresh token from the token function and
 * goes on receiving its topics.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SwitchyardClient } from '../../src/client/index.ts';
import { CLOCK_SKEW_SEC } from '../../src/gateway/auth.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { hs256, nowSec } from '../support/tokens.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway('memory');
});
afterAll(() => gw.stop());

const base = () => gw.wsUrl(APP_A.id).split('?')[0]!;

test('refresh(): the new permissions replace the old, dropped topics are reported', async () => {
  const client = new SwitchyardClient({ urls: [base()], app: APP_A.id, token: await hs256(APP_A.secret, 'alice', { subscribe: ['news', 'room:*'] }) });
  const errors: { code: string; message: string }[] = [];
  client.on('error', (e) => errors.push(e));
  await client.subscribe('news', 'room:1');
  await client.refresh(await hs256(APP_A.secret, 'alice', { subscribe: ['news'] }));
  expect(errors).toEqual([{ code: 'forbidden', message: 'unsubscribed by the server: room:1' }]);
  await expect(client.refresh(await hs256(APP_A.secret, 'bob'))).rejects.toMatchObject({ code: 'forbidden' });
  await expect(client.subscribe('room:2')).rejects.toMatchObject({ code: 'forbidden' });
  client.close();
});

test('closed with 4003 when the token expires, the client reconnects with a fresh token and keeps its topics', async () => {
  let calls = 0;
  const token = async () => {
    calls += 1;
    // The first token expires 1-2 s from now; later ones last an hour.
    const exp = calls === 1 ? nowSec() - CLOCK_SKEW_SEC + 2 : nowSec() + 3600;
    return hs256(APP_A.secret, 'alice', { iat: nowSec() - 60, exp });
  };
  const client = new SwitchyardClient({ urls: [base()], app: APP_A.id, token, minReconnectDelayMs: 10, refreshTokens: false });
  const got: unknown[] = [];
  client.on('message', (m) => got.push(m.data));
  await client.subscribe('feed');
  const first = client.sessionId;
  await waitFor(() => client.sessionId !== first && client.state === 'open', { timeoutMs: 10_000, what: 'a new session after 4003' });
  expect(calls).toBe(2);
  await publishHttp(gw.http, APP_A, 'feed', 'after the refresh');
  await waitFor(() => got.includes('after the refresh'), { what: 'a message on the resubscribed topic' });
  client.close();
});

test('with a token function, the session gets a fresh token before exp: same session, the server holds the new expiry', async () => {
  const expiries: number[] = [];
  const token = async () => {
    // The first token lasts 3 s (refreshed half-way); later ones an hour.
    const exp = expiries.length === 0 ? nowSec() + 3 : nowSec() + 3600;
    expiries.push(exp);
    return hs256(APP_A.secret, 'alice', { iat: nowSec(), exp });
  };
  const client = new SwitchyardClient({ urls: [base()], app: APP_A.id, token });
  try {
    await client.subscribe('feed-refreshed');
    const first = client.sessionId;
    const session = () => [...gw.gateway.sessions].find((s) => s.id === first);
    expect(session()?.expiresAtMs).toBe((expiries[0]! + CLOCK_SKEW_SEC) * 1000);
    await waitFor(() => session()?.expiresAtMs === (expiries[1]! + CLOCK_SKEW_SEC) * 1000, { timeoutMs: 10_000, what: 'the refreshed expiry on the server' });
    expect(expiries.length).toBe(2);
    expect(client.sessionId).toBe(first);
    expect(client.state).toBe('open');
  } finally {
    client.close();
  }
});
