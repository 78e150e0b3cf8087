/**
 * Topic presence through the gateway, on both backends: join and leave frames on the 0 <-> n
 * transitions of a user's sessions, the presence request (subscribers only, presence topics
 * only, PRESENCE_MAX_MEMBERS), the server API, anonymous sessions, and tenancy.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { BACKENDS } from '../support/backends.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

const ROOMS = { id: 'rooms', secret: 'secret-of-rooms-0123456789', allowAnonymous: true, presenceTopics: ['room:', 'lobby'] };
/** The same topic names, another app. */
const OTHER = { id: 'other', secret: 'secret-of-other-0123456789', allowAnonymous: true, presenceTopics: ['room:'] };
const MAX_MEMBERS = 3;

type App = { id: string; secret: string };

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  const clients: WsClient[] = [];
  let n = 0;
  /** A room of its own per test. */
  const room = () => `room:doc-${++n}`;

  beforeAll(async () => {
    gw = await startGateway(backend, { APPS: JSON.stringify([ROOMS, OTHER]), PRESENCE_MAX_MEMBERS: String(MAX_MEMBERS) });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw.stop();
  });

  async function connect(user: string | null, app: App = ROOMS): Promise<WsClient> {
    const token = user === null ? undefined : await sign({ sub: user }, app.secret, 'HS256');
    const c = await WsClient.open(gw.wsUrl(app.id, token));
    clients.push(c);
    return c;
  }

  async function subscribe(c: WsClient, topic: string): Promise<void> {
    expect(await c.request({ type: 'subscribe', topics: [topic] })).toMatchObject({ type: 'ack' });
  }

  /** The join and leave frames a client got on a topic, as `join alice`, `leave bob`. */
  function events(c: WsClient, topic: string): string[] {
    return c.frames.filter((f) => (f.type === 'join' || f.type === 'leave') && f.topic === topic).map((f) => `${f.type} ${f.user}`);
  }

  async function waitForEvent(c: WsClient, topic: string, event: string): Promise<void> {
    const [type, user] = event.split(' ');
    await c.waitFor((f) => f.type === type && f.topic === topic && f.user === user);
  }

  async function presenceOf(c: WsClient, topic: string) {
    return c.request({ type: 'presence', topic });
  }

  test("a user's first session joins, the others do not; the last one out leaves", async () => {
    const topic = room();
    const alice1 = await connect('alice');
    await subscribe(alice1, topic);
    await waitForEvent(alice1, topic, 'join alice');
    const bob = await connect('bob');
    await subscribe(bob, topic);
    await waitForEvent(alice1, topic, 'join bob');
    await waitForEvent(bob, topic, 'join bob');

    const alice2 = await connect('alice');
    await subscribe(alice2, topic);
    expect(await presenceOf(bob, topic)).toMatchObject({
      type: 'ack',
      presence: { count: 2, members: [{ user: 'alice', sessions: 2 }, { user: 'bob', sessions: 1 }] },
    });

    // One of alice's sessions goes: she is still there.
    alice1.close();
    await alice1.closed;
    const carol = await connect('carol');
    await subscribe(carol, topic);
    await waitForEvent(bob, topic, 'join carol');
    expect(events(bob, topic)).toEqual(['join bob', 'join carol']);
    expect((await presenceOf(bob, topic)).presence).toEqual({
      count: 3,
      members: [
        { user: 'alice', sessions: 1 },
        { user: 'bob', sessions: 1 },
        { user: 'carol', sessions: 1 },
      ],
    });

    // Her last one unsubscribes: she leaves, for everyone still there.
    await alice2.request({ type: 'unsubscribe', topics: [topic] });
    await waitForEvent(bob, topic, 'leave alice');
    await waitForEvent(carol, topic, 'leave alice');
    expect(events(alice2, topic)).not.toContain('leave alice');
    // A disconnect leaves too.
    carol.close();
    await waitForEvent(bob, topic, 'leave carol');
    expect(events(bob, topic)).toEqual(['join bob', 'join carol', 'leave alice', 'leave carol']);
    expect((await presenceOf(bob, topic)).presence).toEqual({ count: 1, members: [{ user: 'bob', sessions: 1 }] });
  });

  test('anonymous sessions are not members, yet a subscribed one may ask', async () => {
    const topic = room();
    const anonymous = await connect(null);
    await subscribe(anonymous, topic);
    expect((await presenceOf(anonymous, topic)).presence).toEqual({ count: 0, members: [] });
    const dan = await connect('dan');
    await subscribe(dan, topic);
    await waitForEvent(anonymous, topic, 'join dan');
    expect((await presenceOf(anonymous, topic)).presence).toEqual({ count: 1, members: [{ user: 'dan', sessions: 1 }] });
    anonymous.close();
    await anonymous.closed;
    expect((await presenceOf(dan, topic)).presence).toEqual({ count: 1, members: [{ user: 'dan', sessions: 1 }] });
    expect(events(dan, topic)).toEqual(['join dan']);
  });

  test('presence is for subscribers of presence topics: forbidden, no_presence, invalid_frame', async () => {
    const topic = room();
    const eve = await connect('eve');
    expect(await presenceOf(eve, topic)).toMatchObject({ type: 'error', code: 'forbidden' });
    await subscribe(eve, 'news');
    expect(await presenceOf(eve, 'news')).toMatchObject({ type: 'error', code: 'no_presence' });
    expect(await presenceOf(eve, 'not a topic')).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect(await eve.request({ type: 'presence' })).toMatchObject({ type: 'error', code: 'invalid_frame' });
    // No join or leave on a topic without presence, and the session stays usable.
    await subscribe(eve, topic);
    await waitForEvent(eve, topic, 'join eve');
    expect(eve.frames.filter((f) => (f.type === 'join' || f.type === 'leave') && f.topic === 'news')).toEqual([]);
    // A prefix of presenceTopics that is a whole topic name.
    await subscribe(eve, 'lobby');
    await waitForEvent(eve, 'lobby', 'join eve');
  });

  test(`count is exact; at most PRESENCE_MAX_MEMBERS (${MAX_MEMBERS}) members are listed`, async () => {
    const topic = room();
    const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const sessions = await Promise.all(users.map((u) => connect(u)));
    for (const s of sessions) await subscribe(s, topic);
    await waitForEvent(sessions[0]!, topic, 'join u5');
    const { presence } = (await presenceOf(sessions[0]!, topic)) as unknown as { presence: { count: number; members: { user: string; sessions: number }[] } };
    expect(presence.count).toBe(5);
    expect(presence.members.length).toBe(MAX_MEMBERS);
    for (const m of presence.members) {
      expect(users).toContain(m.user);
      expect(m.sessions).toBe(1);
    }
  });

  test('GET /api/apps/:app/topics/:topic/presence answers the presence object, authenticated like publish', async () => {
    const topic = room();
    const fay = await connect('fay');
    await subscribe(fay, topic);
    await waitForEvent(fay, topic, 'join fay');
    const get = (app: string, t: string, secret?: string) =>
      fetch(`${gw.http}/api/apps/${app}/topics/${encodeURIComponent(t)}/presence`, secret ? { headers: { authorization: `Bearer ${secret}` } } : {});

    const ok = await get(ROOMS.id, topic, ROOMS.secret);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ count: 1, members: [{ user: 'fay', sessions: 1 }] });
    const empty = await get(ROOMS.id, 'room:nobody-here', ROOMS.secret);
    expect(await empty.json()).toEqual({ count: 0, members: [] });

    const refusals: [Response, number, string][] = [
      [await get(ROOMS.id, topic), 401, 'unauthorized'],
      [await get(ROOMS.id, topic, OTHER.secret), 401, 'unauthorized'],
      [await get('nope', topic, ROOMS.secret), 404, 'unknown_app'],
      [await get(ROOMS.id, 'news', ROOMS.secret), 400, 'no_presence'],
      [await get(ROOMS.id, 'room:bad topic', ROOMS.secret), 400, 'invalid_request'],
    ];
    for (const [res, status, code] of refusals) {
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ error: { code } });
    }
  });

  test("apps are separate: the same room in another app has its own members and events", async () => {
    const topic = room();
    const gus = await connect('gus');
    await subscribe(gus, topic);
    await waitForEvent(gus, topic, 'join gus');
    const otherGus = await connect('gus', OTHER);
    await subscribe(otherGus, topic);
    await waitForEvent(otherGus, topic, 'join gus');
    const otherHank = await connect('hank', OTHER);
    await subscribe(otherHank, topic);
    await waitForEvent(otherGus, topic, 'join hank');
    expect((await presenceOf(otherGus, topic)).presence).toEqual({
      count: 2,
      members: [
        { user: 'gus', sessions: 1 },
        { user: 'hank', sessions: 1 },
      ],
    });
    expect((await presenceOf(gus, topic)).presence).toEqual({ count: 1, members: [{ user: 'gus', sessions: 1 }] });
    otherHank.close();
    await waitForEvent(otherGus, topic, 'leave hank');
    // Fence: a later join in the first app arrives after anything the other app could have leaked.
    const ida = await connect('ida');
    await subscribe(ida, topic);
    await waitForEvent(gus, topic, 'join ida');
    expect(events(gus, topic)).toEqual(['join gus', 'join ida']);
    const res = await fetch(`${gw.http}/api/apps/${OTHER.id}/topics/${encodeURIComponent(topic)}/presence`, { headers: { authorization: `Bearer ${OTHER.secret}` } });
    expect(await res.json()).toEqual({ count: 1, members: [{ user: 'gus', sessions: 1 }] });
  });
});
