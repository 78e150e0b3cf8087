/**
 * Topic permissions from the token (`subscribe` and `publish` claims), user-limited topics
 * (`dialog#alice,bob`), and a token's life on a live connection: closed with 4003 when it
 * expires, unless a `refresh` frame brought a new token, whose permissions then replace the
 * old ones (topics no longer allowed are left, with an `unsubscribed` frame). The pattern
 * matcher alone first, then everything over real sockets on both backends.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { CLOCK_SKEW_SEC, Apps } from '../../src/gateway/auth.ts';
import { TopicPatterns, userMaySubscribe } from '../../src/gateway/permissions.ts';
import { BACKENDS } from '../support/backends.ts';
import { publishHttp, useGateway, type TestGateway } from '../support/gateway.ts';
import { hs256, nowSec } from '../support/tokens.ts';
import { WsClient } from '../support/wsClient.ts';

describe('TopicPatterns', () => {
  test('exact names and prefixes ending in *', () => {
    const p = new TopicPatterns(['news', 'room:*', 'a.b.*']);
    for (const topic of ['news', 'room:', 'room:1', 'room:1:x', 'a.b.', 'a.b.c']) expect(p.allows(topic)).toBe(true);
    for (const topic of ['new', 'newsy', 'room', 'roo', 'a.b', 'b', 'zzz', '']) expect(p.allows(topic)).toBe(false);
  });

  test('a prefix covered by a shorter one, and * alone', () => {
    const p = new TopicPatterns(['room:*', 'room:1*', 'r*', 'x']);
    expect(p.allows('rx')).toBe(true);
    expect(p.allows('room:2')).toBe(true);
    expect(p.allows('s')).toBe(false);
    expect(new TopicPatterns(['*']).allows('anything#at,all')).toBe(true);
    expect(new TopicPatterns([]).allows('news')).toBe(false);
  });

  test('the same verdict as a linear scan, for many patterns and topics', () => {
    const alphabet = ['a', 'b', 'c', ':', '.'];
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const word = () => Array.from({ length: 1 + rand(4) }, () => alphabet[rand(alphabet.length)]).join('');
    for (let round = 0; round < 200; round++) {
      const patterns = Array.from({ length: rand(12) }, () => (rand(2) ? `${word()}*` : word()));
      const compiled = new TopicPatterns(patterns);
      for (let i = 0; i < 30; i++) {
        const topic = word();
        const expected = patterns.some((p) => (p.endsWith('*') ? topic.startsWith(p.slice(0, -1)) : p === topic));
        expect(compiled.allows(topic)).toBe(expected);
      }
    }
  });
});

describe('user-limited topics', () => {
  test('after the last #, the comma-separated users who may subscribe', () => {
    expect(userMaySubscribe('dialog#alice,bob', 'alice')).toBe(true);
    expect(userMaySubscribe('dialog#alice,bob', 'bob')).toBe(true);
    expect(userMaySubscribe('dialog#alice,bob', 'carol')).toBe(false);
    expect(userMaySubscribe('dialog#alice,bob', 'ali')).toBe(false);
    expect(userMaySubscribe('dialog#alice,bob', 'alice,bob')).toBe(false);
    expect(userMaySubscribe('inbox#carol', 'carol')).toBe(true);
    expect(userMaySubscribe('inbox#', 'carol')).toBe(false);
    expect(userMaySubscribe('a#b#carol', 'carol')).toBe(true);
    expect(userMaySubscribe('a#b#carol', 'b')).toBe(false);
    expect(userMaySubscribe('inbox#carol', null)).toBe(false);
    expect(userMaySubscribe('news', null)).toBe(true);
  });
});

const SECRET = 'secret-of-perm-app-0123456789';
const PERM = { id: 'perm', secret: SECRET, allowClientPublish: true };
/** Anonymous sessions allowed, for user-limited topics. */
const OPEN = { id: 'open', secret: 'secret-of-open-app-0123456789', allowAnonymous: true, allowClientPublish: true };
/** Publish claims cannot open client publishing where the app does not allow it. */
const NO_PUBLISH = { id: 'nopub', secret: 'secret-of-nopub-app-0123456789' };

describe('token expiry on a live session', () => {
  test('a session ends (exp + skew) exactly when a connection with its token is refused', async () => {
    const apps = new Apps([{ ...PERM, allowAnonymous: false, allowClientPublish: true }]);
    const exp = 1_800_000_000;
    const token = await hs256(SECRET, 'alice', { iat: exp - 60, exp });
    const admitted = await apps.admit('perm', token, exp + CLOCK_SKEW_SEC - 1);
    expect(admitted).toMatchObject({ ok: true, grant: { expiresAtMs: (exp + CLOCK_SKEW_SEC) * 1000 } });
    expect(await apps.admit('perm', token, exp + CLOCK_SKEW_SEC)).toMatchObject({ ok: false, message: 'token expired' });
  });

  test('permission claims that are not lists of patterns refuse the token', async () => {
    const apps = new Apps([{ ...PERM, allowAnonymous: false, allowClientPublish: true }]);
    for (const subscribe of ['news', ['a b'], [1], ['room:**']]) {
      const admitted = await apps.admit('perm', await hs256(SECRET, 'alice', { subscribe }));
      expect(admitted).toMatchObject({ ok: false, code: 'unauthorized' });
      expect((admitted as { message: string }).message).toStartWith('token permission claims: ');
    }
  });
});

for (const backend of BACKENDS) describe(backend, () => {
  const fixture = useGateway(backend, { APPS: JSON.stringify([PERM, OPEN, NO_PUBLISH]) });
  let gw: TestGateway;
  beforeAll(() => {
    gw = fixture.gw;
  });
  const as = async (sub: string | null, claims: Record<string, unknown> = {}, app: { id: string; secret: string } = PERM) =>
    fixture.open(gw.wsUrl(app.id, sub === null && app === OPEN ? undefined : await hs256(app.secret, sub, claims)));

  describe('subscribe claim', () => {
    test('topics inside the patterns subscribe; a request naming one outside is refused whole', async () => {
      const c = await as('alice', { subscribe: ['news', 'room:*'] });
      expect(await c.request({ type: 'subscribe', topics: ['news', 'room:1'] })).toMatchObject({ type: 'ack' });
      const refused = await c.request({ type: 'subscribe', topics: ['room:2', 'private'] });
      expect(refused).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(refused.message).toContain('"private"');
      // room:2 came in the refused request: nothing of it reaches the session.
      await publishHttp(gw.http, PERM, 'room:2', 'not for alice');
      await publishHttp(gw.http, PERM, 'room:1', 'for alice');
      await c.waitForMessages('room:1', 1);
      await c.request({ type: 'ping' });
      expect(c.messages('room:2')).toEqual([]);
    });

    test('without the claim, every topic of the app (as before)', async () => {
      const c = await as('alice');
      expect(await c.request({ type: 'subscribe', topics: ['private', 'anything:else'] })).toMatchObject({ type: 'ack' });
    });

    test('user-limited topics: only the users named, whatever the token says', async () => {
      const alice = await as('alice', { subscribe: ['*'] });
      expect(await alice.request({ type: 'subscribe', topics: ['dialog#alice,bob'] })).toMatchObject({ type: 'ack' });
      expect(await alice.request({ type: 'subscribe', topics: ['inbox#carol'] })).toMatchObject({ code: 'forbidden' });
      const carol = await as('carol', { subscribe: ['*', 'dialog#alice,bob'] });
      expect(await carol.request({ type: 'subscribe', topics: ['inbox#carol'] })).toMatchObject({ type: 'ack' });
      expect(await carol.request({ type: 'subscribe', topics: ['dialog#alice,bob'] })).toMatchObject({ code: 'forbidden' });
      const anonymous = await as(null, {}, OPEN);
      expect(anonymous.frames[0]).toMatchObject({ type: 'welcome', userId: null });
      expect(await anonymous.request({ type: 'subscribe', topics: ['inbox#carol'] })).toMatchObject({ code: 'forbidden' });
      expect(await anonymous.request({ type: 'subscribe', topics: ['news'] })).toMatchObject({ type: 'ack' });
      await publishHttp(gw.http, PERM, 'dialog#alice,bob', 'hi');
      expect((await alice.waitForMessages('dialog#alice,bob', 1))[0]).toMatchObject({ data: 'hi' });
    });

    test('since on a refused topic replays nothing', async () => {
      await publishHttp(gw.http, PERM, 'inbox#dave', 'for dave only');
      const c = await as('mallory');
      const refused = await c.request({ type: 'subscribe', topics: ['inbox#dave'], since: { 'inbox#dave': '0-0' } });
      expect(refused).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(c.messages('inbox#dave')).toEqual([]);
    });
  });

  describe('publish claim', () => {
    test('publishes inside the patterns are acked; outside, forbidden', async () => {
      const c = await as('alice', { publish: ['room:*'] });
      expect(await c.request({ type: 'publish', topic: 'room:7', data: 1 })).toMatchObject({ type: 'ack' });
      expect(await c.request({ type: 'publish', topic: 'news', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    });

    test('a publish claim does not open client publishing where the app does not allow it', async () => {
      const c = await as('alice', { publish: ['*'] }, NO_PUBLISH);
      expect(await c.request({ type: 'publish', topic: 'news', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    });
  });

  describe('expiry and refresh', () => {
    test('a token already past exp by more than the skew is refused at connect (4500)', async () => {
      const token = await hs256(SECRET, 'alice', { iat: nowSec() - 60, exp: nowSec() - CLOCK_SKEW_SEC - 1 });
      const c = await WsClient.connect(gw.wsUrl(PERM.id, token));
      expect(await c.waitFor(() => true)).toMatchObject({ type: 'error', code: 'unauthorized', message: 'token expired' });
      expect((await c.closed).code).toBe(4500);
    });

    test('a session whose token is at the edge of its expiry is closed with 4003 when it expires, not before', async () => {
      // Accepted for 1-2 more seconds (exp + skew), then the sweep closes it.
      const exp = nowSec() - CLOCK_SKEW_SEC + 2;
      const c = await as('alice', { iat: exp - 60, exp });
      expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      const closed = await c.closed;
      expect(Date.now()).toBeGreaterThanOrEqual((exp + CLOCK_SKEW_SEC) * 1000);
      expect(closed).toEqual({ code: 4003, reason: 'token expired; get a new token and reconnect' });
    });

    test('a refresh before the expiry keeps the session past it', async () => {
      const exp = nowSec() - CLOCK_SKEW_SEC + 2;
      const old = await hs256(SECRET, 'alice', { iat: exp - 60, exp });
      const refreshed = await fixture.open(gw.wsUrl(PERM.id, old));
      // Same token, no refresh: closed by the same sweep that would close the refreshed one.
      const control = await fixture.open(gw.wsUrl(PERM.id, old));
      expect(await refreshed.request({ type: 'refresh', token: await hs256(SECRET, 'alice') })).toMatchObject({ type: 'ack' });
      expect((await control.closed).code).toBe(4003);
      expect(await refreshed.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    test('the new permissions replace the old: topics no longer allowed are left, with an unsubscribed frame', async () => {
      const c = await as('alice', { subscribe: ['news', 'room:*'] });
      await c.request({ type: 'subscribe', topics: ['news', 'room:1', 'room:2'] });
      const ack = await c.request({ type: 'refresh', token: await hs256(SECRET, 'alice', { subscribe: ['news', 'room:2'] }) });
      expect(ack).toEqual({ type: 'ack', id: ack.id as string });
      const notice = c.frames.findIndex((f) => f.type === 'unsubscribed');
      expect(c.frames[notice]).toEqual({ type: 'unsubscribed', topics: ['room:1'], reason: 'forbidden' });
      expect(notice).toBeLessThan(c.frames.indexOf(ack));
      await publishHttp(gw.http, PERM, 'room:1', 'gone');
      await publishHttp(gw.http, PERM, 'room:2', 'kept');
      await publishHttp(gw.http, PERM, 'news', 'kept too');
      await c.waitForMessages('news', 1);
      await c.waitForMessages('room:2', 1);
      await c.request({ type: 'ping' });
      expect(c.messages('room:1')).toEqual([]);
      expect(await c.request({ type: 'subscribe', topics: ['room:3'] })).toMatchObject({ code: 'forbidden' });
    });

    test('a refresh for another sub, or with a bad token, is refused and changes nothing', async () => {
      const exp = nowSec() + 3600;
      const c = await as('alice', { subscribe: ['news'], exp });
      expect(await c.request({ type: 'refresh', token: await hs256(SECRET, 'bob', { subscribe: ['*'] }) })).toMatchObject({
        type: 'error',
        code: 'forbidden',
        message: 'the refresh token must carry the same sub as the session',
      });
      expect(await c.request({ type: 'refresh', token: await hs256('another-secret-0123456789', 'alice') })).toMatchObject({
        type: 'error',
        code: 'unauthorized',
        message: 'invalid token',
      });
      const expired = await hs256(SECRET, 'alice', { iat: nowSec() - 60, exp: nowSec() - CLOCK_SKEW_SEC - 1 });
      expect(await c.request({ type: 'refresh', token: expired })).toMatchObject({ code: 'unauthorized', message: 'token expired' });
      expect(await c.request({ type: 'refresh', token: 'not a jwt' })).toMatchObject({ code: 'unauthorized' });
      expect(await c.request({ type: 'refresh' })).toMatchObject({ code: 'invalid_frame' });
      // Still alice's first grant: news only.
      expect(await c.request({ type: 'subscribe', topics: ['other'] })).toMatchObject({ code: 'forbidden' });
      expect(await c.request({ type: 'subscribe', topics: ['news'] })).toMatchObject({ type: 'ack' });
    });
  });
});
