/**
 * Binary payloads end to end on one gateway, on both backends (docs/protocol.md, "Binary
 * frames"): publish by binary frame and by an application/octet-stream HTTP body; delivery in
 * binary frames with the right topic, offset and bytes; text and binary messages of a topic in
 * one offset order, live and replayed with `since`; direct messages with bytes, live and from
 * the user inbox; and the answers to bad binary input.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { encodeBinaryPublish, encodeBinarySend } from '../../src/protocol/binary.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, publishHttp, useGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

/** Direct messages allowed, anonymous sessions and client publish too. */
const CHAT = { id: 'chat', secret: 'secret-of-chat-0123456789', allowAnonymous: true, allowClientPublish: true, allowDirect: true };
/** Client publish not allowed. */
const QUIET = { id: 'quiet', secret: 'secret-of-quiet-0123456789', allowAnonymous: true };
const APPS = JSON.stringify([APP_A, CHAT, QUIET]);
const MAX_FRAME_BYTES = 4096;

/** Every byte value: nothing may be lost to a text conversion on the way. */
const EVERY_BYTE = Uint8Array.from({ length: 256 }, (_, i) => i);

type App = { id: string; secret: string };

function hex(data: unknown): string {
  if (!(data instanceof Uint8Array)) throw new Error(`expected bytes, got ${JSON.stringify(data)}`);
  return Buffer.from(data).toString('hex');
}

function postBytes(gw: TestGateway, app: App, path: string, body: Uint8Array<ArrayBuffer>): Promise<Response> {
  return fetch(`${gw.http}/api/apps/${app.id}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.secret}`, 'content-type': 'application/octet-stream' },
    body,
  });
}

async function publishBytes(gw: TestGateway, app: App, topic: string, body: Uint8Array<ArrayBuffer>): Promise<string> {
  const res = await postBytes(gw, app, `/publish?topic=${encodeURIComponent(topic)}`, body);
  if (!res.ok) throw new Error(`binary publish failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { offset: string }).offset;
}

function token(app: App, sub: string): Promise<string> {
  return sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, app.secret, 'HS256');
}

for (const backend of BACKENDS) describe(backend, () => {
  const fixture = useGateway(backend, { APPS, MAX_FRAME_BYTES: String(MAX_FRAME_BYTES) });
  let gw: TestGateway;
  let n = 0;
  const fresh = (name: string) => `${name}-${++n}`;
  beforeAll(() => {
    gw = fixture.gw;
  });

  /** Sends a binary frame with a fresh request id; resolves with its (JSON) reply. */
  async function binaryRequest(c: WsClient, encode: (id: string) => Uint8Array<ArrayBuffer>) {
    const id = c.nextId();
    c.sendRaw(encode(id));
    return c.reply(id);
  }

  test('a binary publish frame is acked with its offset; subscribers get a binary frame with topic, offset and the bytes', async () => {
    const topic = fresh('bin');
    const [a, b] = [await fixture.open(), await fixture.open()];
    for (const c of [a, b]) expect((await c.request({ type: 'subscribe', topics: [topic] })).type).toBe('ack');
    const publisher = await fixture.open();
    const ack = await binaryRequest(publisher, (id) => encodeBinaryPublish(id, topic, EVERY_BYTE));
    expect(ack.type).toBe('ack');
    for (const c of [a, b]) {
      const [message] = await c.waitForMessages(topic, 1);
      expect(message!.binary).toBe(true);
      expect(message!.offset).toBe(ack.offset as string);
      expect(hex(message!.data)).toBe(hex(EVERY_BYTE));
    }
    // The publisher holds no subscription: it got the ack only.
    expect(publisher.messages(topic)).toEqual([]);
  });

  test('POST …/publish?topic= with application/octet-stream publishes the body as it is', async () => {
    const topic = fresh('http');
    const c = await fixture.open();
    await c.request({ type: 'subscribe', topics: [topic] });
    const body = new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x22]);
    const offset = await publishBytes(gw, APP_A, topic, body);
    const [message] = await c.waitForMessages(topic, 1);
    expect(message!.offset).toBe(offset);
    expect(hex(message!.data)).toBe('fffe007b22');
    // An empty body is a message of zero bytes.
    await publishBytes(gw, APP_A, topic, new Uint8Array(0));
    const [, empty] = await c.waitForMessages(topic, 2);
    expect(hex(empty!.data)).toBe('');
  });

  test('HTTP binary publish: topic required and checked, body limited to MAX_FRAME_BYTES', async () => {
    const noTopic = await postBytes(gw, APP_A, '/publish', new Uint8Array([1]));
    expect(noTopic.status).toBe(400);
    expect(((await noTopic.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('topic') });
    const badTopic = await postBytes(gw, APP_A, '/publish?topic=a%20b', new Uint8Array([1]));
    expect(badTopic.status).toBe(400);
    const tooLarge = await postBytes(gw, APP_A, `/publish?topic=${fresh('big')}`, new Uint8Array(MAX_FRAME_BYTES + 1));
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe('too_large');
    const atLimit = await postBytes(gw, APP_A, `/publish?topic=${fresh('big')}`, new Uint8Array(MAX_FRAME_BYTES));
    expect(atLimit.status).toBe(200);
    const wrongKey = await fetch(`${gw.http}/api/apps/${APP_A.id}/publish?topic=x`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/octet-stream' }, body: new Uint8Array([1]) });
    expect(wrongKey.status).toBe(401);
  });

  test('text and binary messages of one topic share one offset order, live and replayed with since', async () => {
    const topic = fresh('mixed');
    const live = await fixture.open();
    await live.request({ type: 'subscribe', topics: [topic] });
    const publisher = await fixture.open();
    const sent: { offset: string; text?: unknown; bytes?: string }[] = [];
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) sent.push({ offset: await publishHttp(gw.http, APP_A, topic, { i }), text: { i } });
      else if (i % 3 === 1) sent.push({ offset: await publishBytes(gw, APP_A, topic, new Uint8Array([i, 0xff])), bytes: hex(new Uint8Array([i, 0xff])) });
      else {
        const ack = await binaryRequest(publisher, (id) => encodeBinaryPublish(id, topic, new Uint8Array([i, 0x80])));
        sent.push({ offset: ack.offset as string, bytes: hex(new Uint8Array([i, 0x80])) });
      }
    }
    for (let i = 1; i < sent.length; i++) expect(compareOffsets(sent[i]!.offset, sent[i - 1]!.offset)).toBeGreaterThan(0);
    const shape = (m: Record<string, unknown>): { offset: unknown; text?: unknown; bytes?: string } => (m.binary === true ? { offset: m.offset, bytes: hex(m.data) } : { offset: m.offset, text: m.data });
    expect((await live.waitForMessages(topic, 12)).map(shape)).toEqual(sent);

    // A late subscriber replays from the second message: binary messages come back as binary frames.
    const late = await fixture.open();
    const ack = await late.request({ type: 'subscribe', topics: [topic], since: { [topic]: sent[1]!.offset } });
    expect(ack.recovered).toEqual({ [topic]: true });
    const replayed = late.frames.slice(0, late.frames.indexOf(ack)).filter((f) => f.type === 'message');
    expect(replayed.map(shape)).toEqual(sent.slice(2));
  });

  test('a binary send reaches the recipient as a binary direct frame with from; the server API sends bytes with from null', async () => {
    const alice = fresh('alice');
    const bob = fresh('bob');
    const a = await fixture.open(gw.wsUrl(CHAT.id, await token(CHAT, alice)));
    const b = await fixture.open(gw.wsUrl(CHAT.id, await token(CHAT, bob)));
    const ack = await binaryRequest(a, (id) => encodeBinarySend(id, bob, EVERY_BYTE));
    expect(ack.type).toBe('ack');
    const first = await b.waitFor((f) => f.type === 'direct');
    expect(first).toMatchObject({ binary: true, messageId: ack.messageId as string, from: alice });
    expect(hex(first.data)).toBe(hex(EVERY_BYTE));

    const res = await postBytes(gw, CHAT, `/users/${bob}/messages`, new Uint8Array([0xde, 0xad]));
    expect(res.status).toBe(200);
    const { messageId } = (await res.json()) as { messageId: string };
    const second = await b.waitFor((f) => f.type === 'direct' && f.messageId === messageId);
    expect(second.from).toBeNull();
    expect(hex(second.data)).toBe('dead');
    // An idempotency key as a query parameter: the same key stores the message once.
    const keyed = async () => ((await (await postBytes(gw, CHAT, `/users/${bob}/messages?id=k-${bob}`, new Uint8Array([1]))).json()) as { messageId: string }).messageId;
    expect(await keyed()).toBe(await keyed());
  });

  test('direct messages with bytes wait in the user inbox and replay as binary frames, in order with text ones', async () => {
    const carol = fresh('carol');
    const ids: string[] = [];
    for (const body of [new Uint8Array([1, 2, 3]), null, new Uint8Array([0xff])]) {
      const res =
        body === null
          ? await fetch(`${gw.http}/api/apps/${CHAT.id}/users/${carol}/messages`, { method: 'POST', headers: { authorization: `Bearer ${CHAT.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ data: 'text' }) })
          : await postBytes(gw, CHAT, `/users/${carol}/messages`, body);
      ids.push(((await res.json()) as { messageId: string }).messageId);
    }
    const c = await fixture.open(gw.wsUrl(CHAT.id, await token(CHAT, carol)));
    await c.waitFor((f) => f.type === 'direct' && f.messageId === ids[2]);
    const directs = c.frames.filter((f) => f.type === 'direct');
    expect(directs.map((d) => [d.messageId, d.binary === true ? hex(d.data) : d.data])).toEqual([
      [ids[0], '010203'],
      [ids[1], 'text'],
      [ids[2], 'ff'],
    ]);
  });

  test('bad binary frames get an error frame and the session goes on', async () => {
    const c = await fixture.open();
    const errorFor = async (frame: Uint8Array<ArrayBuffer>, id: string | null) => {
      const before = c.frames.length;
      c.sendRaw(frame);
      return c.waitFor((f) => f.type === 'error' && c.frames.indexOf(f) >= before && f.id === id);
    };
    expect((await errorFor(new Uint8Array(0), null)).code).toBe('invalid_frame');
    expect((await errorFor(new Uint8Array([0x13, 1, 0x61]), null)).message).toContain('unknown binary frame kind 0x13');
    expect((await errorFor(new Uint8Array([0x11, 9, 0x61]), null)).message).toContain('overruns');
    // The id could be read: the error names it.
    const cut = encodeBinaryPublish('cut', 'news', new Uint8Array(0)).subarray(0, 6);
    expect((await errorFor(Uint8Array.from(cut), 'cut')).code).toBe('invalid_frame');
    expect((await errorFor(encodeBinaryPublish('bad-topic', 'a{b', new Uint8Array(1)), 'bad-topic')).code).toBe('invalid_frame');
    expect((await errorFor(encodeBinaryPublish('big', 'news', new Uint8Array(MAX_FRAME_BYTES + 1)), 'big')).code).toBe('too_large');
    // A binary send where direct messages are not allowed (APP_A), and a binary publish where client publish is not (QUIET).
    expect((await errorFor(encodeBinarySend('no-direct', 'bob', new Uint8Array(1)), 'no-direct')).code).toBe('forbidden');
    const quiet = await fixture.open(gw.wsUrl(QUIET.id));
    const refused = await binaryRequest(quiet, (id) => encodeBinaryPublish(id, 'news', new Uint8Array(1)));
    expect(refused).toMatchObject({ type: 'error', code: 'forbidden' });
    // Still open and answering.
    expect((await c.request({ type: 'ping' })).type).toBe('pong');
  });
});
