/**
 * Direct messages, the user inbox and user status on one gateway, on both backends: delivery
 * to every session of a user, replay of what is unconfirmed on connect (in order, before live
 * messages, no duplicate or gap even while messages are sent during the connect), confirmation
 * for all devices, idempotency keys, the `lost` mark, the session quota, bad input, and
 * tenancy for every operation.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { BACKENDS } from '../support/backends.ts';
import { useGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

/** Direct messages allowed, anonymous sessions too (to show they cannot use them). */
const CHAT = { id: 'chat', secret: 'secret-of-chat-0123456789', allowAnonymous: true, allowDirect: true, maxSessionsPerUser: 3 };
/** Another tenant with the same user names. */
const OTHER = { id: 'other', secret: 'secret-of-other-0123456789', allowDirect: true };
/** Direct messages not allowed. */
const PLAIN = { id: 'plain', secret: 'secret-of-plain-0123456789' };
const APPS = JSON.stringify([CHAT, OTHER, PLAIN]);

type App = { id: string; secret: string };

function token(app: App, sub: string): Promise<string> {
  return sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, app.secret, 'HS256');
}

function post(gw: TestGateway, app: App, user: string, body: unknown, secret = app.secret): Promise<Response> {
  return fetch(`${gw.http}/api/apps/${app.id}/users/${encodeURIComponent(user)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function sendHttp(gw: TestGateway, app: App, user: string, data: unknown, id?: string): Promise<string> {
  const res = await post(gw, app, user, id === undefined ? { data } : { data, id });
  if (!res.ok) throw new Error(`send failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { messageId: string }).messageId;
}

function directs(c: WsClient): Record<string, unknown>[] {
  return c.frames.filter((f) => f.type === 'direct');
}

async function waitForDirects(c: WsClient, count: number, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  while (directs(c).length < count) {
    if (Date.now() > deadline) throw new Error(`got ${directs(c).length}/${count} direct messages`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return directs(c);
}

for (const backend of BACKENDS) describe(backend, () => {
  const fixture = useGateway(backend, { APPS, USER_INBOX_MAX_LENGTH: '50' });
  let gw: TestGateway;
  let n = 0;
  /** A user name no other test uses. */
  const fresh = (name: string) => `${name}-${++n}`;
  const connect = async (app: App, user: string | null) => fixture.open(gw.wsUrl(app.id, user === null ? undefined : await token(app, user)));
  /** Connects once the user's closed sessions have left the registry (it is told asynchronously). */
  const connectWhenFree = async (app: App, user: string) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const c = await WsClient.connect(gw.wsUrl(app.id, await token(app, user)));
      const first = await c.waitFor(() => true);
      if (first.type === 'welcome') return c;
      await c.closed;
      if (Date.now() > deadline) throw new Error(`no free session slot for ${user}`);
    }
  };
  beforeAll(() => {
    gw = fixture.gw;
  });

  test('send reaches every session of the recipient, with from and increasing message IDs', async () => {
    const alice = fresh('alice');
    const bob = fresh('bob');
    const a = await connect(CHAT, alice);
    const b1 = await connect(CHAT, bob);
    const b2 = await connect(CHAT, bob);
    expect(b1.frames[0]).toMatchObject({ type: 'welcome', userId: bob, inbox: { pending: 0 } });
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push(await a.request({ type: 'send', to: bob, data: { i } }));
    const ids = acks.map((ack) => ack.messageId as string);
    for (const ack of acks) expect(ack.type).toBe('ack');
    for (const id of ids) expect(id).toMatch(/^\d+-\d+$/);
    for (let i = 1; i < ids.length; i++) expect(compareOffsets(ids[i]!, ids[i - 1]!)).toBeGreaterThan(0);
    for (const c of [b1, b2]) {
      const got = await waitForDirects(c, 3);
      expect(got).toEqual(ids.map((messageId, i) => ({ type: 'direct', messageId, from: alice, data: { i } })));
    }
    // The sender's own sessions get nothing.
    await a.request({ type: 'ping' });
    expect(directs(a)).toEqual([]);
  });

  test('an offline user gets every unconfirmed message on connect, in order, before live ones; received confirms for all devices', async () => {
    const carol = fresh('carol');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await sendHttp(gw, CHAT, carol, `offline-${i}`));
    const c1 = await connect(CHAT, carol);
    expect(c1.frames[0]).toMatchObject({ type: 'welcome', inbox: { pending: 5 } });
    expect((c1.frames[0]!.inbox as Record<string, unknown>).lost).toBeUndefined();
    const live = await sendHttp(gw, CHAT, carol, 'live');
    const got = await waitForDirects(c1, 6);
    expect(got.map((f) => f.messageId)).toEqual([...ids, live]);
    expect(got.map((f) => f.from)).toEqual([null, null, null, null, null, null]);
    // A second device sees the same until confirmed; confirming on one is for all.
    const c2 = await connect(CHAT, carol);
    expect(c2.frames[0]).toMatchObject({ inbox: { pending: 6 } });
    await waitForDirects(c2, 6);
    expect(await c1.request({ type: 'received', upTo: ids[2] })).toMatchObject({ type: 'ack' });
    // CHAT allows three sessions per user.
    c1.close();
    await c1.closed;
    const c3 = await connectWhenFree(CHAT, carol);
    expect(c3.frames[0]).toMatchObject({ inbox: { pending: 3 } });
    expect((await waitForDirects(c3, 3)).map((f) => f.messageId)).toEqual([ids[3], ids[4], live]);
    // Confirming what another device already confirmed is fine.
    expect(await c2.request({ type: 'received', upTo: ids[1] })).toMatchObject({ type: 'ack' });
    expect(await c2.request({ type: 'received', upTo: live })).toMatchObject({ type: 'ack' });
    c3.close();
    await c3.closed;
    const c4 = await connectWhenFree(CHAT, carol);
    expect(c4.frames[0]).toMatchObject({ inbox: { pending: 0 } });
  });

  test('messages sent while the recipient connects arrive once each, in order, with no gap', async () => {
    const dave = fresh('dave');
    for (let i = 0; i < 20; i++) await sendHttp(gw, CHAT, dave, i);
    const sending = (async () => {
      const ids: string[] = [];
      for (let i = 20; i < 45; i++) ids.push(await sendHttp(gw, CHAT, dave, i));
      return ids;
    })();
    const c = await connect(CHAT, dave);
    await sending;
    const got = await waitForDirects(c, 45);
    expect(got.map((f) => f.data)).toEqual(Array.from({ length: 45 }, (_, i) => i));
    await c.request({ type: 'ping' });
    expect(directs(c).length).toBe(45);
  });

  test('an idempotency key stores the message once', async () => {
    const erin = fresh('erin');
    const first = await sendHttp(gw, CHAT, erin, 'once', 'order-17');
    const again = await sendHttp(gw, CHAT, erin, 'once', 'order-17');
    expect(again).toBe(first);
    const other = await sendHttp(gw, CHAT, erin, 'twice', 'order-18');
    expect(compareOffsets(other, first)).toBeGreaterThan(0);
    const c = await connect(CHAT, erin);
    expect(c.frames[0]).toMatchObject({ inbox: { pending: 2 } });
    expect((await waitForDirects(c, 2)).map((f) => f.data)).toEqual(['once', 'twice']);
  });

  test('messages dropped unconfirmed by the cap mark the inbox lost until confirmed past', async () => {
    const frank = fresh('frank');
    const ids: string[] = [];
    for (let i = 0; i < 53; i++) ids.push(await sendHttp(gw, CHAT, frank, i));
    const c = await connect(CHAT, frank);
    expect(c.frames[0]).toMatchObject({ inbox: { pending: 50, lost: true } });
    const got = await waitForDirects(c, 50);
    expect(got[0]!.messageId).toBe(ids[3]);
    // A dropped ID is one of the user's: confirming it is accepted.
    expect(await c.request({ type: 'received', upTo: ids[1] })).toMatchObject({ type: 'ack' });
    const again = await connect(CHAT, frank);
    expect(again.frames[0]).toMatchObject({ inbox: { pending: 50, lost: true } });
    expect(await c.request({ type: 'received', upTo: ids[52] })).toMatchObject({ type: 'ack' });
    const after = await connect(CHAT, frank);
    expect(after.frames[0]).toMatchObject({ inbox: { pending: 0 } });
    expect((after.frames[0]!.inbox as Record<string, unknown>).lost).toBeUndefined();
  });

  test('user status over the socket and the server API', async () => {
    const gina = fresh('gina');
    const absent = fresh('absent');
    const asker = await connect(CHAT, fresh('asker'));
    const g1 = await connect(CHAT, gina);
    await connect(CHAT, gina);
    const ack = await asker.request({ type: 'presence', users: [gina, absent, '__proto__', 'constructor'] });
    expect(ack).toMatchObject({ type: 'ack', online: { [gina]: true, [absent]: false } });
    expect(Object.getOwnPropertyNames(ack.online)).toEqual([gina, absent, '__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(ack.online, '__proto__')?.value).toBe(false);
    const res = await fetch(`${gw.http}/api/apps/${CHAT.id}/users/${gina}/presence`, { headers: { authorization: `Bearer ${CHAT.secret}` } });
    expect(await res.json()).toEqual({ online: true, sessions: 2 });
    g1.close();
    await g1.closed;
    const deadline = Date.now() + 5000;
    let sessions = 2;
    while (sessions !== 1 && Date.now() < deadline) {
      const r = await fetch(`${gw.http}/api/apps/${CHAT.id}/users/${gina}/presence`, { headers: { authorization: `Bearer ${CHAT.secret}` } });
      sessions = ((await r.json()) as { sessions: number }).sessions;
    }
    expect(sessions).toBe(1);
  });

  test('over maxSessionsPerUser a connection is refused with 4504; a slot frees when a session closes', async () => {
    const hank = fresh('hank');
    const open = [await connect(CHAT, hank), await connect(CHAT, hank), await connect(CHAT, hank)];
    const refused = await WsClient.connect(gw.wsUrl(CHAT.id, await token(CHAT, hank)));
    const closed = await refused.closed;
    expect(refused.frames).toEqual([expect.objectContaining({ type: 'error', id: null, code: 'limit_exceeded' })]);
    expect(closed.code).toBe(4504);
    open[0]!.close();
    await open[0]!.closed;
    (await connectWhenFree(CHAT, hank)).close();
  });

  test('frames sent right after connecting are answered after the welcome', async () => {
    const ivy = fresh('ivy');
    const c = await WsClient.connect(gw.wsUrl(CHAT.id, await token(CHAT, ivy)));
    c.send({ type: 'ping', id: 'early' });
    await c.reply('early');
    expect(c.frames[0]!.type).toBe('welcome');
    c.close();
  });

  describe('refused', () => {
    test('an app without allowDirect: send, received and presence are forbidden', async () => {
      const c = await connect(PLAIN, fresh('jay'));
      expect(c.frames[0]!.inbox).toBeUndefined();
      expect(await c.request({ type: 'send', to: 'kim', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await c.request({ type: 'received', upTo: '1-0' })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await c.request({ type: 'presence', users: ['kim'] })).toMatchObject({ type: 'error', code: 'forbidden' });
    });

    test('anonymous sessions cannot send or receive', async () => {
      const c = await connect(CHAT, null);
      expect(c.frames[0]).toMatchObject({ type: 'welcome', userId: null });
      expect(c.frames[0]!.inbox).toBeUndefined();
      expect(await c.request({ type: 'send', to: 'kim', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await c.request({ type: 'received', upTo: '1-0' })).toMatchObject({ type: 'error', code: 'forbidden' });
    });

    test('bad input over the socket', async () => {
      const c = await connect(CHAT, fresh('lee'));
      expect(await c.request({ type: 'send', to: 'bad{user}', data: 1 })).toMatchObject({ type: 'error', code: 'invalid_frame', message: expect.stringContaining('user id') });
      expect(await c.request({ type: 'send', to: 'x'.repeat(129), data: 1 })).toMatchObject({ type: 'error', code: 'invalid_frame' });
      expect(await c.request({ type: 'send', to: 'kim' })).toMatchObject({ type: 'error', code: 'invalid_frame', message: expect.stringContaining('data') });
      c.sendRaw(JSON.stringify({ type: 'send', id: 'big', to: 'kim', data: 'x'.repeat(70_000) }));
      expect(await c.reply('big')).toMatchObject({ type: 'error', code: 'too_large' });
      expect(await c.request({ type: 'received', upTo: 'latest' })).toMatchObject({ type: 'error', code: 'invalid_frame' });
      expect(await c.request({ type: 'received', upTo: '99999999999999-0' })).toMatchObject({ type: 'error', code: 'unknown_message' });
      const users = Array.from({ length: 101 }, (_, i) => `u${i}`);
      expect(await c.request({ type: 'presence', users })).toMatchObject({ type: 'error', code: 'invalid_frame', message: expect.stringContaining('at most 100') });
      expect(await c.request({ type: 'presence', users: [] })).toMatchObject({ type: 'error', code: 'invalid_frame' });
    });

    test("upTo of another user's message is unknown", async () => {
      const mia = fresh('mia');
      const ned = fresh('ned');
      await sendHttp(gw, CHAT, ned, 'for ned');
      const mine = await sendHttp(gw, CHAT, mia, 'for mia');
      // IDs are per user: ned's next one may be spelled like mia's (same millisecond, same
      // sequence), and then it is one of mia's IDs. Take one that is not.
      let theirs = await sendHttp(gw, CHAT, ned, 'for ned too');
      while (theirs === mine) theirs = await sendHttp(gw, CHAT, ned, 'for ned again');
      const c = await connect(CHAT, mia);
      expect(await c.request({ type: 'received', upTo: theirs })).toMatchObject({ type: 'error', code: 'unknown_message' });
      expect(await c.request({ type: 'received', upTo: mine })).toMatchObject({ type: 'ack' });
    });

    test('a token whose sub is not a user id is refused', async () => {
      const c = await WsClient.connect(gw.wsUrl(CHAT.id, await token(CHAT, 'a}b')));
      expect((await c.closed).code).toBe(4500);
      expect(c.frames[0]).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringContaining('user id') });
    });

    test('bad input over the server API', async () => {
      expect((await post(gw, CHAT, 'bad{user}', { data: 1 })).status).toBe(400);
      const noData = await post(gw, CHAT, 'kim', { id: 'x' });
      expect(noData.status).toBe(400);
      expect(await noData.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('data') } });
      expect((await post(gw, CHAT, 'kim', { data: 1, id: '' })).status).toBe(400);
      expect((await post(gw, CHAT, 'kim', { data: 'x'.repeat(70_000) })).status).toBe(413);
      const presence = await fetch(`${gw.http}/api/apps/${CHAT.id}/users/${encodeURIComponent('a{b')}/presence`, { headers: { authorization: `Bearer ${CHAT.secret}` } });
      expect(presence.status).toBe(400);
    });
  });

  describe('tenancy', () => {
    test("another app's secret can neither send to nor ask about this app's users", async () => {
      const res = await post(gw, CHAT, 'kim', { data: 1 }, OTHER.secret);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
      const presence = await fetch(`${gw.http}/api/apps/${CHAT.id}/users/kim/presence`, { headers: { authorization: `Bearer ${OTHER.secret}` } });
      expect(presence.status).toBe(401);
      const unknown = await post(gw, { id: 'nope', secret: CHAT.secret }, 'kim', { data: 1 });
      expect(unknown.status).toBe(404);
    });

    test('the same user name in two apps is two users: messages, inboxes, status and confirmations do not cross', async () => {
      const oli = fresh('oli');
      const inChat = await connect(CHAT, oli);
      const senderInOther = await connect(OTHER, fresh('pat'));
      const sent = await senderInOther.request({ type: 'send', to: oli, data: 'other app' });
      expect(sent).toMatchObject({ type: 'ack' });
      // Status in OTHER: oli has no session there.
      expect(await senderInOther.request({ type: 'presence', users: [oli] })).toMatchObject({ online: { [oli]: false } });
      const res = await fetch(`${gw.http}/api/apps/${OTHER.id}/users/${oli}/presence`, { headers: { authorization: `Bearer ${OTHER.secret}` } });
      expect(await res.json()).toEqual({ online: false, sessions: 0 });
      // oli of CHAT cannot confirm the message of oli of OTHER.
      expect(await inChat.request({ type: 'received', upTo: sent.messageId })).toMatchObject({ code: 'unknown_message' });
      await sendHttp(gw, CHAT, oli, 'chat app');
      expect((await waitForDirects(inChat, 1)).map((f) => f.data)).toEqual(['chat app']);
      const inOther = await connect(OTHER, oli);
      expect(inOther.frames[0]).toMatchObject({ inbox: { pending: 1 } });
      expect((await waitForDirects(inOther, 1)).map((f) => f.data)).toEqual(['other app']);
      await inChat.request({ type: 'ping' });
      expect(directs(inChat).map((f) => f.data)).toEqual(['chat app']);
    });
  });
});
