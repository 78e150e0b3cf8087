import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { ClientFrameSchema, decodeServerFrame, parseClientFrame, ServerFrameSchema, type AckFrame } from '../../src/protocol/frames.ts';
import { CloseCode, shouldReconnect } from '../../src/protocol/codes.ts';
import { compareOffsets, OffsetSchema } from '../../src/protocol/offset.ts';
import { TopicSchema } from '../../src/protocol/names.ts';

describe('client frames', () => {
  test('accepts the documented frames', () => {
    const frames = [
      { type: 'subscribe', id: '1', topics: ['a', 'b'], since: { a: '12-0' } },
      { type: 'unsubscribe', id: '2', topics: ['a'] },
      { type: 'publish', id: '3', topic: 'a', data: { x: [1, 2] } },
      { type: 'publish', id: '3b', topic: 'a', data: null },
      { type: 'ping', id: '4' },
      { type: 'presence', id: '12', topic: 'room:doc-42' },
    ];
    for (const f of frames) expect(v.safeParse(ClientFrameSchema, f).success).toBe(true);
  });

  test('rejects unknown types, wrong field types and missing fields', () => {
    const bad = [
      { type: 'hello', id: '1' },
      { type: 'subscribe', id: 1, topics: ['a'] },
      { type: 'subscribe', id: '1', topics: 'a' },
      { type: 'subscribe', id: '1', topics: [] },
      { type: 'subscribe', id: '1', topics: ['a'], since: { a: 'yesterday' } },
      { type: 'publish', id: '1', topic: 'a' },
      { type: 'ping' },
      { type: 'ping', id: '' },
      { type: 'ping', id: 'x'.repeat(65) },
      { type: 'presence', id: '12' },
      { type: 'presence', id: '12', topic: 'room doc' },
    ];
    for (const f of bad) expect(v.safeParse(ClientFrameSchema, f).success).toBe(false);
  });

  test('parseClientFrame agrees with ClientFrameSchema on every frame, good or bad', () => {
    const frames: unknown[] = [
      { type: 'subscribe', id: '1', topics: ['a'], since: { a: '1-0' } },
      { type: 'publish', id: '2', topic: 'a', data: [1] },
      { type: 'rpc', id: '3', method: 'resize', params: {}, timeoutMs: 10 },
      { type: 'rpc', id: '3', method: 'bad method' },
      { type: 'ping', id: '4' },
      { type: 'unsubscribe', id: '5', topics: [] },
      { type: 'hello', id: '6' },
      { type: 'toString', id: '7' },
      { id: '8' },
      [1, 2],
      null,
      'text',
      42,
    ];
    for (const f of frames) {
      const viaUnion = v.safeParse(ClientFrameSchema, f);
      const viaDispatch = parseClientFrame(f);
      expect(viaDispatch.ok).toBe(viaUnion.success);
      if (viaDispatch.ok && viaUnion.success) expect(viaDispatch.frame).toEqual(viaUnion.output);
    }
  });

  test('since is read into a Map with every own key, prototype names included', () => {
    const text = '{"type":"subscribe","id":"1","topics":["__proto__"],"since":{"__proto__":"1-0","constructor":"2-0","toString":"3-0","prototype":"4-0"}}';
    const parsed = parseClientFrame(JSON.parse(text));
    expect(parsed.ok).toBe(true);
    const since = (parsed as { frame: { since: Map<string, string> } }).frame.since;
    expect([...since]).toEqual([
      ['__proto__', '1-0'],
      ['constructor', '2-0'],
      ['toString', '3-0'],
      ['prototype', '4-0'],
    ]);
    // No since: nothing to look up, not an object where `valueOf` would be found.
    const plain = parseClientFrame({ type: 'subscribe', id: '1', topics: ['valueOf'] });
    expect(plain.ok && plain.frame.type === 'subscribe' && plain.frame.since).toBe(undefined);
  });

  test('a bad key or value in since names it', () => {
    expect(parseClientFrame({ type: 'subscribe', id: '1', topics: ['a'], since: { a: 'x' } })).toEqual({ ok: false, issue: 'since: a: offset: <ms>-<seq>' });
    expect(parseClientFrame({ type: 'subscribe', id: '1', topics: ['a'], since: { 'a b': '1-0' } })).toEqual({
      ok: false,
      issue: 'since: "a b": topic: 1-200 of A-Z a-z 0-9 _ - . : @ / = # ,',
    });
    expect(parseClientFrame({ type: 'subscribe', id: '1', topics: ['a'], since: ['1-0'] })).toEqual({ ok: false, issue: 'since: an object keyed by topic' });
  });

  test('topic names: bounded alphabet and length', () => {
    for (const ok of ['a', 'news.eu', 'doc:42/cursor', 'user@example=1#x', 'x'.repeat(200)]) expect(v.is(TopicSchema, ok)).toBe(true);
    for (const bad of ['', ' ', 'a b', 'x'.repeat(201), 'é', 'a\nb', 'a"b']) expect(v.is(TopicSchema, bad)).toBe(false);
  });
});

describe('server frames', () => {
  test('the documented server frames parse', () => {
    const frames = [
      { type: 'welcome', sessionId: 's', instanceId: 'i', userId: null },
      { type: 'ack', id: '1', offsets: { a: '1-0' }, recovered: { a: true } },
      { type: 'message', topic: 'a', offset: '1-0', data: 'x' },
      { type: 'error', id: null, code: 'invalid_frame', message: 'm' },
      { type: 'pong', id: '4' },
      { type: 'join', topic: 'room:doc-42', user: 'alice' },
      { type: 'leave', topic: 'room:doc-42', user: 'alice' },
      { type: 'ack', id: '12', presence: { count: 2, members: [{ user: 'alice', sessions: 2 }, { user: 'bob', sessions: 1 }] } },
    ];
    for (const f of frames) expect(v.safeParse(ServerFrameSchema, f).success).toBe(true);
  });

  test('the subscribe ack reads offsets and recovered into Maps, prototype names included', () => {
    const ack = decodeServerFrame('{"type":"ack","id":"1","offsets":{"__proto__":"5-0","toString":"6-0"},"recovered":{"constructor":false}}');
    expect(ack?.type).toBe('ack');
    const { offsets, recovered } = ack as AckFrame;
    expect([...offsets!]).toEqual([
      ['__proto__', '5-0'],
      ['toString', '6-0'],
    ]);
    expect([...recovered!]).toEqual([['constructor', false]]);
  });
});

describe('offsets', () => {
  test('compare numerically by milliseconds, then sequence', () => {
    expect(compareOffsets('2-0', '10-0')).toBeLessThan(0);
    expect(compareOffsets('10-2', '10-10')).toBeLessThan(0);
    expect(compareOffsets('10-3', '10-3')).toBe(0);
    expect(compareOffsets('11-0', '10-99')).toBeGreaterThan(0);
    expect(v.is(OffsetSchema, '1795240083435-0')).toBe(true);
    expect(v.is(OffsetSchema, '-1')).toBe(false);
  });
});

describe('close codes', () => {
  test('4000-4499 reconnect, 4500-4999 are terminal', () => {
    expect(shouldReconnect(CloseCode.Draining)).toBe(true);
    expect(shouldReconnect(CloseCode.SlowConsumer)).toBe(true);
    expect(shouldReconnect(CloseCode.NotReady)).toBe(true);
    expect(shouldReconnect(CloseCode.Unauthorized)).toBe(false);
    expect(shouldReconnect(CloseCode.UnknownApp)).toBe(false);
    expect(shouldReconnect(CloseCode.Normal)).toBe(false);
    expect(shouldReconnect(1006)).toBe(true);
  });
});
