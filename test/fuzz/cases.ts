/**
 * The fuzz cases: what one case sends (a text frame of any bytes, a binary frame, or a new
 * connection with an odd query string), generated from its own seeded stream (random.ts).
 *
 * Valid frames come from OPERATIONS, one entry per client frame type: a generator of a valid
 * frame and a check of the reply a valid frame must get. Every other kind of case starts from
 * those frames (fields mutated, wrong types, odd topics, garbage `since`, bytes flipped) or from
 * nothing (random JSON, deep or huge JSON, invalid UTF-8, binary). A new frame type (refresh,
 * send, received, presence, …) is one more entry in OPERATIONS; the mutations then cover it too.
 * Binary frames (protocol/binary.ts) have BINARY_OPERATIONS: valid publish (0x11) and send
 * (0x12) frames, and the same frames with their kind, lengths, names or size mutated.
 */
import { OffsetSchema } from '../../src/protocol/offset.ts';
import { encodeBinaryPublish, encodeBinarySend } from '../../src/protocol/binary.ts';
import { MessageIdSchema, TopicSchema } from '../../src/protocol/names.ts';
import * as v from 'valibot';
import { userMaySubscribe } from '../../src/gateway/permissions.ts';
import type { Rng } from './random.ts';

/** Limits the generator aims at (the fuzzed gateway's configuration). */
export interface FuzzLimits {
  maxFrameBytes: number;
  /** The runtime's hard cut: frames above it are closed with 1009. */
  hardFrameLimitBytes: number;
}

export type Reply = Record<string, unknown>;

export interface CheckContext {
  /** The other frames of its burst, in flight on the same session at the same time. */
  concurrent: readonly unknown[];
  limits: FuzzLimits;
  /** The session's user (null: anonymous): a user-limited topic (`name#alice,bob`) of other users is refused. */
  userId: string | null;
}

export interface Operation {
  type: string;
  /** A schema-valid frame of this type with request id `id`. */
  valid(rng: Rng, id: string): Record<string, unknown>;
  /**
   * What a valid frame must get: null when `reply` (the ack, pong, result or error carrying
   * the frame's id) is right, else what is wrong.
   */
  check(frame: Record<string, unknown>, reply: Reply, context: CheckContext): string | null;
}

/** Names that a plain object would find on Object.prototype, and other odd topic names. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', '__lookupSetter__', 'propertyIsEnumerable', 'toLocaleString'];

/**
 * Topics the canary subscribes to in its own app: the fuzz sessions publish to them in theirs
 * (a leak across apps would reach the canary).
 */
export const SHARED_TOPICS = ['canary', 'news', 'room:1', ...PROTOTYPE_NAMES];

const TOPIC_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:@/=#';

/** Topic names outside the alphabet or length: each must be refused with invalid_frame. */
const BAD_TOPICS = ['', ' ', 'a b', 'ünïcödé', '日本語', '😀', '\u0000', 'a\nb', 'room:*', 'dialog#alice,bob', 'x'.repeat(201), '\ud800', '"', '\\', '{}', 'a'.repeat(5000)];

export function validTopic(rng: Rng): string {
  return rng.weighted<() => string>([
    [4, () => rng.pick(SHARED_TOPICS)],
    [3, () => rng.string(rng.range(1, 12), TOPIC_ALPHABET)],
    [1, () => rng.string(200, TOPIC_ALPHABET)],
    [1, () => `${rng.pick(PROTOTYPE_NAMES)}${rng.pick(['', ':', '.', '#'])}${rng.pick(PROTOTYPE_NAMES)}`],
  ])();
}

export function oddTopic(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [5, () => rng.pick(BAD_TOPICS)],
    [2, () => randomUnicode(rng, rng.range(1, 40))],
    [2, () => randomJson(rng, 2)],
    [1, () => validTopic(rng)],
  ])();
}

/** Offsets as the schema takes them, and the edges of that shape. */
export function validOffset(rng: Rng): string {
  return rng.weighted<() => string>([
    [3, () => '0-0'],
    [3, () => `${rng.range(0, 2_000_000_000_000)}-${rng.range(0, 20)}`],
    [1, () => '9999999999999999-9999999999999999'],
    [1, () => '0000000000000001-0000000000000000'],
    [1, () => `${Date.now() + rng.range(-1000, 1000)}-0`],
  ])();
}

/** Offsets the schema refuses. */
const BAD_OFFSETS: unknown[] = ['', '-', '1', '1-', '-1', '1--1', '-1-0', '1.5-0', '1-0-0', 'abc', '18446744073709551616-0', '99999999999999999-0', '0x10-0', ' 1-0', '1-0 ', '١-٠', 0, 1.5, -1, null, true, [], {}, ['1-0']];

export function randomSince(rng: Rng, topics: readonly unknown[]): unknown {
  return rng.weighted<() => unknown>([
    [3, () => Object.fromEntries(topics.filter((t): t is string => typeof t === 'string').map((t) => [t, validOffset(rng)]))],
    [2, () => Object.fromEntries([[rng.pick(PROTOTYPE_NAMES), validOffset(rng)]])],
    [2, () => Object.fromEntries([[String(rng.pick(topics) ?? 'news'), rng.pick(BAD_OFFSETS)]])],
    [2, () => Object.fromEntries([[rng.pick(BAD_TOPICS), validOffset(rng)]])],
    [1, () => rng.pick<unknown>([null, [], 'since', 42, true, [['news', '0-0']]])],
    [1, () => Object.fromEntries(Array.from({ length: rng.range(50, 2000) }, (_, i) => [`t${i}`, validOffset(rng)]))],
  ])();
}

export const OPERATIONS: Operation[] = [
  {
    type: 'subscribe',
    valid: (rng, id) => {
      const topics = Array.from({ length: rng.range(1, 4) }, () => validTopic(rng));
      return rng.chance(0.4) ? { type: 'subscribe', id, topics, since: Object.fromEntries(topics.map((t) => [t, validOffset(rng)])) } : { type: 'subscribe', id, topics };
    },
    check: (frame, reply, { concurrent, userId }) => {
      // docs/protocol.md: a request naming a user-limited topic of other users is refused whole.
      const limited = (frame.topics as string[]).find((topic) => !userMaySubscribe(topic, userId));
      if (limited !== undefined) {
        return reply.type === 'error' && reply.code === 'forbidden' ? null : `subscribe naming ${JSON.stringify(limited)} (user ${JSON.stringify(userId)}) answered ${JSON.stringify(reply).slice(0, 200)}`;
      }
      if (reply.type === 'error') return reply.code === 'limit_exceeded' ? null : `subscribe refused with ${String(reply.code)}`;
      if (reply.type !== 'ack') return `subscribe answered with ${String(reply.type)}`;
      const offsets = reply.offsets as Record<string, unknown> | undefined;
      // docs/protocol.md: a topic unsubscribed while its subscribe was in flight has no position.
      const unsubscribed = new Set(concurrent.flatMap((f) => (isFrame(f) && f.type === 'unsubscribe' && Array.isArray(f.topics) ? f.topics : [])));
      for (const topic of new Set(frame.topics as string[])) {
        if (!offsets || !Object.hasOwn(offsets, topic)) {
          if (unsubscribed.has(topic)) continue;
          return `ack has no offset for ${JSON.stringify(topic)}`;
        }
        if (!v.is(OffsetSchema, offsets[topic])) return `ack offset of ${JSON.stringify(topic)} is ${JSON.stringify(offsets[topic])}`;
      }
      return null;
    },
  },
  {
    type: 'unsubscribe',
    valid: (rng, id) => ({ type: 'unsubscribe', id, topics: Array.from({ length: rng.range(1, 3) }, () => validTopic(rng)) }),
    check: (_frame, reply) => (reply.type === 'ack' ? null : `unsubscribe answered with ${JSON.stringify(reply)}`),
  },
  {
    type: 'publish',
    valid: (rng, id) => ({ type: 'publish', id, topic: validTopic(rng), data: randomJson(rng, 3) }),
    check: (_frame, reply) => (reply.type === 'ack' && v.is(OffsetSchema, reply.offset) ? null : `publish answered with ${JSON.stringify(reply)}`),
  },
  {
    type: 'ping',
    valid: (_rng, id) => ({ type: 'ping', id }),
    check: (_frame, reply) => (reply.type === 'pong' ? null : `ping answered with ${JSON.stringify(reply)}`),
  },
  {
    type: 'rpc',
    valid: (rng, id) => {
      const method = rng.weighted<string>([
        [5, 'echo'],
        [1, 'fail'],
        [4, rng.string(rng.range(1, 20), 'abcdefghijklmnopqrstuvwxyz0123456789_.-')],
      ]);
      return {
        type: 'rpc',
        id,
        method,
        ...(rng.chance(0.7) ? { params: randomJson(rng, 3) } : {}),
        ...(rng.chance(0.4) ? { timeoutMs: rng.pick([1, 50, 15_000, 2 ** 31, Number.MAX_SAFE_INTEGER]) } : {}),
      };
    },
    // The fuzz worker serves `echo` (returns the params) and `fail` (throws); no other method has a worker.
    check: (frame, reply, { concurrent, limits }) => {
      const method = frame.method;
      if (reply.type === 'result') {
        if (method !== 'echo') return `result for ${JSON.stringify(method)}, which no worker serves`;
        return JSON.stringify(reply.result) === JSON.stringify(frame.params ?? null) ? null : `echo returned ${JSON.stringify(reply.result).slice(0, 200)}`;
      }
      if (reply.type !== 'error') return `rpc answered with ${JSON.stringify(reply).slice(0, 200)}`;
      switch (reply.code) {
        case 'job_failed':
          return method === 'fail' ? null : `job_failed for ${JSON.stringify(method)}`;
        case 'no_such_method':
          return method !== 'echo' && method !== 'fail' ? null : `no_such_method for ${JSON.stringify(method)}`;
        case 'timeout':
          // Only a deadline shorter than a round trip may pass before the worker answers, or
          // an echo too large for a reply: the bridge dead-letters a reply over MAX_FRAME_BYTES
          // and its client gets `timeout` (docs/rpc.md).
          if (typeof frame.timeoutMs === 'number' && frame.timeoutMs <= 50) return null;
          if (method === 'echo' && JSON.stringify(frame.params ?? null).length > limits.maxFrameBytes - 1024) return null;
          return `timeout of a job with timeoutMs ${String(frame.timeoutMs)}: the job or its result was lost`;
        case 'limit_exceeded':
          return null;
        case 'invalid_frame':
          return concurrent.some((f) => isFrame(f) && f.type === 'rpc' && f.id === frame.id) ? null : `valid rpc refused: ${String(reply.message)}`;
        default:
          return `rpc refused with ${String(reply.code)}: ${String(reply.message)}`;
      }
    },
  },
];

// ---- binary frames (issue 14) ------------------------------------------------------------

/** User IDs a binary send names: valid ones, prototype names among them. */
const USER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.@:=+|';

/**
 * Binary publish and send frames, described as objects (`binary: true`, `size` bytes of
 * payload) for the judge; binaryFrame() writes them out. The fuzzed app allows client
 * publish but not direct messages: a send is refused with `forbidden` (an ack would do too,
 * for an app that allows them).
 */
export const BINARY_OPERATIONS: Operation[] = [
  {
    type: 'publish',
    valid: (rng, id) => ({ type: 'publish', binary: true, id, topic: validTopic(rng), size: payloadSize(rng) }),
    check: (_frame, reply) => (reply.type === 'ack' && v.is(OffsetSchema, reply.offset) ? null : `binary publish answered with ${JSON.stringify(reply).slice(0, 200)}`),
  },
  {
    type: 'send',
    valid: (rng, id) => ({ type: 'send', binary: true, id, to: rng.chance(0.2) ? rng.pick(PROTOTYPE_NAMES) : rng.string(rng.range(1, 128), USER_ALPHABET), size: payloadSize(rng) }),
    check: (_frame, reply) =>
      (reply.type === 'ack' && v.is(MessageIdSchema, reply.messageId)) || (reply.type === 'error' && reply.code === 'forbidden') ? null : `binary send answered with ${JSON.stringify(reply).slice(0, 200)}`,
  },
];

/** Payload sizes: mostly small, some at and over MAX_FRAME_BYTES (64 KiB in the fuzzed gateway). */
function payloadSize(rng: Rng): number {
  return rng.weighted<() => number>([
    [6, () => rng.range(0, 300)],
    [2, () => rng.range(1000, 60_000)],
    [1, () => rng.pick([64 * 1024, 64 * 1024 + 1, 100_000, 200_000])],
  ])();
}

/** The bytes of a binary frame described by a BINARY_OPERATIONS entry. */
export function binaryFrame(rng: Rng, frame: Record<string, unknown>): Uint8Array {
  const payload = rng.bytes(frame.size as number);
  return frame.type === 'publish' ? encodeBinaryPublish(frame.id as string, frame.topic as string, payload) : encodeBinarySend(frame.id as string, frame.to as string, payload);
}

/**
 * A binary frame broken in one of the ways a decoder must survive: empty, cut short, an
 * unknown kind, a length that overruns the frame (or is zero), a name that is not UTF-8 or
 * fails its schema, bytes flipped in the header.
 */
function mutateBinary(rng: Rng, bytes: Uint8Array, frame: Record<string, unknown>): { bytes: Uint8Array; kind: string } {
  const out = Uint8Array.from(bytes);
  const idLength = out[1]!;
  /** Where the topic's (or user's) length field starts. */
  const second = 2 + idLength;
  switch (rng.int(8)) {
    case 0:
      return { bytes: new Uint8Array(0), kind: 'empty' };
    case 1:
      return { bytes: out.subarray(0, rng.int(Math.min(out.length, second + 3))), kind: 'cut short' };
    case 2:
      out[0] = rng.pick([0x00, 0x01, 0x02, 0x03, 0x10, 0x13, 0x21, 0x7b, 0xff, rng.int(256)]);
      return { bytes: out, kind: `kind 0x${out[0]!.toString(16)}` };
    case 3:
      out[1] = rng.pick([0, 65, 0xff, idLength + 1, out.length]);
      return { bytes: out, kind: `id length ${out[1]}` };
    case 4:
      if (frame.type === 'publish') {
        const length = rng.pick([0, 201, 0xffff, (frame.topic as string).length + 1, out.length]);
        out[second] = length >>> 8;
        out[second + 1] = length & 0xff;
        return { bytes: out, kind: `topic length ${length}` };
      }
      out[second] = rng.pick([0, 129, 0xff, (frame.to as string).length + 1]);
      return { bytes: out, kind: `to length ${out[second]}` };
    case 5: {
      // A byte of the id or the name: not UTF-8, a space, a brace, a NUL.
      const nameLength = ((frame.type === 'publish' ? frame.topic : frame.to) as string).length;
      const at = rng.chance(0.5) ? 2 + rng.int(idLength) : second + (frame.type === 'publish' ? 2 : 1) + rng.int(nameLength);
      if (at < out.length) out[at] = rng.pick([0xff, 0xc3, 0x80, 0x20, 0x7b, 0x00, 0x22]);
      return { bytes: out, kind: `name byte ${at}` };
    }
    case 6:
      for (let n = rng.range(1, 4); n > 0; n--) out[rng.int(Math.min(out.length, second + 4))] = rng.int(256);
      return { bytes: out, kind: 'header bytes flipped' };
    default: {
      // JSON text sent as a binary frame: `{` is no kind.
      return { bytes: text(JSON.stringify({ ...frame, data: 'x' })), kind: 'JSON as binary' };
    }
  }
}

function isFrame(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Any JSON value, `depth` levels at most; objects may have prototype names as keys. */
export function randomJson(rng: Rng, depth: number): unknown {
  const leaf = (): unknown =>
    rng.pick<() => unknown>([
      () => null,
      () => rng.chance(0.5),
      () => rng.range(-1000, 1000),
      () => rng.pick([0, -0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 2 ** 64, 0.1]),
      () => rng.string(rng.range(0, 16), 'abcxyz019 "\\/\n\t'),
      () => randomUnicode(rng, rng.range(0, 8)),
    ])();
  if (depth <= 0 || rng.chance(0.4)) return leaf();
  if (rng.chance(0.5)) return Array.from({ length: rng.range(0, 4) }, () => randomJson(rng, depth - 1));
  const keys = Array.from({ length: rng.range(0, 4) }, () => (rng.chance(0.3) ? rng.pick([...PROTOTYPE_NAMES, 'type', 'id', 'topics', 'since', '']) : rng.string(rng.range(1, 6), 'abcdef')));
  return Object.fromEntries(keys.map((k) => [k, randomJson(rng, depth - 1)]));
}

/** Code points from every plane, lone surrogates included (JSON.stringify escapes those). */
export function randomUnicode(rng: Rng, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    const cp = rng.weighted<() => number>([
      [3, () => rng.range(0x20, 0x7e)],
      [2, () => rng.range(0x80, 0x7ff)],
      [2, () => rng.range(0x800, 0xffff)],
      [1, () => rng.range(0x10000, 0x10ffff)],
      [1, () => rng.range(0, 0x1f)],
    ])();
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** What a case sends. */
export type CaseAction =
  | { send: 'text'; payload: Uint8Array }
  | { send: 'binary'; payload: Uint8Array }
  /** Several text frames written at once, before any answer: requests of one session in flight together. */
  | { send: 'burst'; payloads: Uint8Array[] }
  /**
   * A new connection: `query` goes after `/ws?` as is; `expect` says how it must be answered
   * (`documented`: any answer docs/protocol.md lists for a connection).
   */
  | { send: 'connect'; query: string; expect: 'welcome' | 'unauthorized' | 'unknown_app' | 'documented' | 'head_too_large' }

  /**
   * A request to the HTTP server API; `expect`: the status and error code docs/protocol.md
   * gives for it (several where the answer depends on the deployment).
   */
  | { send: 'http'; method: string; path: string; headers: Record<string, string>; body: Uint8Array | null; chunked: boolean; expect: { status: number; code?: string }[] }
  /** A new connection that sends `payloads` and drops the TCP connection at once, mid-request. */
  | { send: 'abandon'; payloads: Uint8Array[] };

export type FuzzCase = CaseAction & { index: number; kind: string };

/** Credentials the connect cases draw from (set up by the runner). */
export interface FuzzCredentials {
  app: string;
  otherApp: string;
  /** A valid token of `app`. */
  token: string;
  /** The server API's Bearer secret of `app`, and of `otherApp`. */
  apiSecret: string;
  otherApiSecret: string;
  /** Tokens that `app` must refuse: signed with another app's secret, expired, alg none, garbage. */
  badTokens: readonly string[];
}

const text = (s: string) => new TextEncoder().encode(s);

/** Ids a frame may carry: valid ones most of the time, every kind of invalid one too. */
function mutatedId(rng: Rng, id: string): unknown {
  return rng.pick<unknown>(['', 'x'.repeat(65), 'x'.repeat(64), 42, null, true, {}, [id], '\u0000', randomUnicode(rng, 5), '__proto__', `${id}"}`]);
}

function mutateObject(rng: Rng, frame: Record<string, unknown>, id: string): { frame: unknown; kind: string } {
  const keys = Object.keys(frame);
  const key = rng.pick(keys);
  const copy: Record<string, unknown> = { ...frame };
  switch (rng.int(9)) {
    case 0:
      delete copy[key];
      return { frame: copy, kind: `drop ${key}` };
    case 1:
      copy[key] = randomJson(rng, 2);
      return { frame: copy, kind: `retype ${key}` };
    case 2:
      copy.type = rng.pick<unknown>([...PROTOTYPE_NAMES, 'Subscribe', 'SUBSCRIBE', 'subscribe ', '', 'message', 'ack', 'welcome', 'error', 'refresh', 'send', 'presence', rng.string(8, 'abcdefgh'), 1, null, ['ping'], { ping: 1 }]);
      return { frame: copy, kind: 'odd type' };
    case 3:
      copy.id = mutatedId(rng, id);
      return { frame: copy, kind: 'odd id' };
    case 4:
      copy[rng.pick(['extra', '__proto__', 'constructor', 'topic', 'topics', 'since', 'data'])] = randomJson(rng, 2);
      return { frame: copy, kind: 'extra field' };
    case 5:
      if ('topics' in copy) copy.topics = rng.pick<() => unknown>([() => [], () => [oddTopic(rng)], () => Array.from({ length: rng.range(100, 3000) }, (_, i) => `t${i}`), () => 'news', () => null])();
      else copy.topic = oddTopic(rng);
      return { frame: copy, kind: 'odd topic' };
    case 6:
      copy.since = randomSince(rng, Array.isArray(copy.topics) ? copy.topics : [copy.topic]);
      return { frame: copy, kind: 'garbage since' };
    case 7:
      return { frame: rng.pick<unknown>([[copy], JSON.stringify(copy), { frame: copy }, null]), kind: 'wrapped' };
    default:
      copy.timeoutMs = rng.pick<unknown>([0, -1, 1.5, '1000', null, 1e308, Number.MAX_SAFE_INTEGER + 2]);
      copy.method = rng.pick<unknown>([copy.method ?? 'x', '', 'a b', 'x'.repeat(101), '../etc', 'a*', 7]);
      return { frame: copy, kind: 'odd rpc fields' };
  }
}

function mutateBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = [...bytes];
  for (let n = rng.range(1, 3); n > 0; n--) {
    const at = rng.int(Math.max(out.length, 1));
    switch (rng.int(4)) {
      case 0:
        out[at] = rng.int(256);
        break;
      case 1:
        out.splice(at, rng.range(1, 8));
        break;
      case 2:
        out.splice(at, 0, ...rng.bytes(rng.range(1, 4)));
        break;
      default:
        out.splice(at, 0, ...text(rng.pick(['"', '{', '}', '[', ',', ':', '\\', 'null', '"type"', '"id"'])));
    }
  }
  return Uint8Array.from(out);
}

/** Deep nesting: as a whole frame or as the `data` of a publish. */
function deepJson(rng: Rng, limits: FuzzLimits): string {
  const depth = rng.pick([100, 1000, 10_000, Math.floor(limits.maxFrameBytes / 2) - 100]);
  const nested = rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  return rng.weighted<string>([
    [5, `{"type":"publish","id":"deep","topic":"deep","data":${nested}}`],
    // An echo near the frame limit is too large for a reply and times out (docs/rpc.md): a
    // short deadline for those only, the others must come back.
    [2, `{"type":"rpc","id":"deep","method":"echo",${nested.length > limits.maxFrameBytes - 1024 ? '"timeoutMs":2000,' : ''}"params":${nested}}`],
    [3, nested],
  ]);
}

/** Large frames around the limits: under, over MAX_FRAME_BYTES, over the hard cut. */
function hugeFrame(rng: Rng, limits: FuzzLimits): string {
  const size = rng.pick([limits.maxFrameBytes - 200, limits.maxFrameBytes + 1, limits.maxFrameBytes + rng.int(limits.hardFrameLimitBytes - limits.maxFrameBytes), limits.hardFrameLimitBytes + 1, limits.hardFrameLimitBytes * 2]);
  const shape = rng.int(3);
  if (shape === 0) return JSON.stringify({ type: 'publish', id: 'huge', topic: 'huge', data: 'x'.repeat(Math.max(0, size - 60)) });
  if (shape === 1) return JSON.stringify({ type: 'subscribe', id: 'huge', topics: Array.from({ length: Math.floor(size / 8) }, (_, i) => `t${i}`) });
  return `{"type":"ping","id":"${'y'.repeat(Math.max(0, size - 24))}"}`;
}

/** Text frames that are not UTF-8: bytes the runtime must refuse (1007) before the gateway sees them. */
function invalidUtf8(rng: Rng): Uint8Array {
  const bad = rng.pick([[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xc3], [0xf0, 0x9f, 0x98]]);
  const before = text(rng.pick(['{"type":"ping","id":"', '{"type":"subscribe","id":"1","topics":["', '', '"']));
  return Uint8Array.from([...before, ...bad, ...text(rng.pick(['"}', '"]}', '']))]);
}

function connectCase(rng: Rng, creds: FuzzCredentials): CaseAction {
  const token = rng.weighted<() => { q: string; ok: boolean }>([
    [3, () => ({ q: '', ok: true })],
    [3, () => ({ q: `&token=${creds.token}`, ok: true })],
    [3, () => ({ q: `&token=${encodeURIComponent(rng.pick(creds.badTokens))}`, ok: false })],
    [1, () => ({ q: `&token=${encodeURIComponent(rng.string(rng.range(1, 2000), 'abcXYZ019.-_'))}`, ok: false })],
  ])();
  const resume = rng.pick(['', '&resume=', `&resume=${encodeURIComponent(rng.string(rng.range(1, 200), 'abc019:.-_'))}`, '&resume=a:b:c', '&resume=i-x.y:zzzzzzzzzzzz:AAAA']);
  const shape = rng.int(7);
  // A request head over Bun's 16 KiB: refused by the runtime with 431 (docs/protocol.md).
  if (shape === 6) return { send: 'connect', query: `app=${creds.app}&token=${rng.string(rng.range(17_000, 100_000), 'abcXYZ019.-_')}`, expect: 'head_too_large' };
  if (shape === 0) return { send: 'connect', query: `app=${encodeURIComponent(rng.pick([creds.otherApp + 'x', '', ...PROTOTYPE_NAMES, 'x'.repeat(300), 'ünï']))}${token.q}`, expect: 'unknown_app' };
  if (shape === 1) {
    // Query strings a URL parser may choke on: the answer must still be a documented one.
    const odd = rng.pick(['app=%', 'app=%zz', `app=${creds.app}&app=${creds.otherApp}`, `app=${creds.app}&token=%E0%A4%A`, `app=${creds.app}&token=%00`, `app[]=${creds.app}`, '', '&&&', `APP=${creds.app}`, `app=${creds.app}%00`]);
    return { send: 'connect', query: odd, expect: 'documented' };
  }
  return { send: 'connect', query: `app=${creds.app}${token.q}${resume}`, expect: token.ok ? 'welcome' : 'unauthorized' };
}

/** A request to the server API, and what docs/protocol.md says it must get. */
function httpCase(rng: Rng, limits: FuzzLimits, creds: FuzzCredentials): CaseAction {
  const other = rng.weighted<() => CaseAction>([
    [1, () => ({ send: 'http', method: 'GET', path: '/healthz', headers: {}, body: null, chunked: false, expect: [{ status: 200 }] })],
    // Open today; the API key may come to guard it (issue 11): both are documented answers.
    [1, () => ({ send: 'http', method: 'GET', path: '/api/instances', headers: {}, body: null, chunked: false, expect: [{ status: 200 }, { status: 401, code: 'unauthorized' }] })],
    [1, () => ({ send: 'http', method: 'GET', path: rng.pick(['/nope', '/api', '/api/apps', `/api/apps/${creds.app}`, '/%', '/api/apps/%ZZ/publish', `/${'x'.repeat(3000)}`]), headers: {}, body: null, chunked: false, expect: [{ status: 404, code: 'not_found' }, { status: 400, code: 'invalid_request' }] })],
    [1, () => ({ send: 'http', method: rng.pick(['PUT', 'DELETE', 'PATCH']), path: `/api/apps/${creds.app}/publish`, headers: { authorization: `Bearer ${creds.apiSecret}` }, body: text('{}'), chunked: false, expect: [{ status: 404, code: 'not_found' }] })],
    [1, () => ({ send: 'http', method: 'GET', path: `/ws?app=${creds.app}`, headers: {}, body: null, chunked: false, expect: [{ status: 426, code: 'invalid_request' }] })],
  ])();
  if (rng.chance(0.2)) return other;
  // The publish route. Checked in this order: app, Bearer, size, UTF-8 JSON, schema.
  const app = rng.weighted<string>([
    [6, creds.app],
    [1, creds.otherApp],
    [2, rng.pick(['nope', ...PROTOTYPE_NAMES, 'x'.repeat(65), 'FUZZ', `${creds.app}%00`])],
  ]);
  const known = app === creds.app || app === creds.otherApp;
  // The canary's app never gets a valid Bearer: its sequence is the canary's alone.
  const auth = rng.weighted<() => { header: string | null; ok: boolean }>([
    [6, () => ({ header: `Bearer ${creds.apiSecret}`, ok: app === creds.app })],
    // The other app's secret: the canary's on the fuzzed app, the fuzzed app's on the canary's.
    [1, () => ({ header: `Bearer ${app === creds.app ? creds.otherApiSecret : creds.apiSecret}`, ok: false })],
    [1, () => ({ header: rng.pick(['', 'Bearer', 'Bearer ', `Basic ${creds.apiSecret}`, `bearer ${creds.apiSecret}`, `Bearer ${creds.token}`, `Bearer ${creds.apiSecret}x`, `Bearer ${'a'.repeat(5000)}`]), ok: false })],
    [1, () => ({ header: null, ok: false })],
  ])();
  const body = rng.weighted<() => { bytes: Uint8Array; chunked: boolean; expect: { status: number; code?: string } }>([
    [5, () => ({ bytes: text(JSON.stringify({ topic: validTopic(rng), data: randomJson(rng, 3) })), chunked: rng.chance(0.2), expect: { status: 200 } })],
    [2, () => ({ bytes: text(JSON.stringify(rng.chance(0.5) ? { topic: rng.pick(BAD_TOPICS), data: 1 } : randomJson(rng, 3)) ?? 'null'), chunked: false, expect: { status: 400, code: 'invalid_request' } })],
    [1, () => ({ bytes: text(rng.pick(['', '{', 'nope', '{"topic":"news","data":}', '\u0000'])), chunked: false, expect: { status: 400, code: 'invalid_request' } })],
    [1, () => ({ bytes: Uint8Array.from([...text('{"topic":"news","data":"'), 0xff, 0xfe, ...text('"}')]), chunked: false, expect: { status: 400, code: 'invalid_request' } })],
    [1, () => ({ bytes: text(JSON.stringify({ topic: 'huge', data: 'x'.repeat(limits.maxFrameBytes) })), chunked: rng.chance(0.5), expect: { status: 413, code: 'too_large' } })],
  ])();
  const headers: Record<string, string> = { 'content-type': rng.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', '']) };
  if (auth.header !== null) headers.authorization = auth.header;
  const expect = !known ? { status: 404, code: 'unknown_app' } : !auth.ok ? { status: 401, code: 'unauthorized' } : body.expect;
  if (rng.chance(0.25)) {
    // A binary message (issue 14): the body as it is, the topic in the query; checked in the
    // order topic, size.
    const bytes = rng.bytes(rng.pick([0, rng.range(1, 300), limits.maxFrameBytes, limits.maxFrameBytes + 1]));
    const topic = rng.weighted<() => string | null>([
      [6, () => validTopic(rng)],
      [2, () => rng.pick(BAD_TOPICS)],
      [1, () => null],
    ])();
    const query = topic === null ? rng.pick(['', '?', '?topics=news', '?Topic=news']) : `?topic=${encodeURIComponent(topic)}`;
    const valid = topic !== null && v.is(TopicSchema, topic);
    const binaryExpect = !valid ? { status: 400, code: 'invalid_request' } : bytes.length > limits.maxFrameBytes ? { status: 413, code: 'too_large' } : { status: 200 };
    const binaryHeaders = { ...headers, 'content-type': rng.pick(['application/octet-stream', 'Application/Octet-Stream; charset=binary']) };
    return { send: 'http', method: 'POST', path: `/api/apps/${app}/publish${query}`, headers: binaryHeaders, body: bytes, chunked: rng.chance(0.2), expect: [!known || !auth.ok ? expect : binaryExpect] };
  }
  return { send: 'http', method: 'POST', path: `/api/apps/${app}/publish`, headers, body: body.bytes, chunked: body.chunked, expect: [expect] };
}

/** Case `index` of a run: the same every time for the same seed. */
export function generateCase(rng: Rng, index: number, limits: FuzzLimits, creds: FuzzCredentials): FuzzCase {
  const id = `c${index}`;
  const op = rng.pick(OPERATIONS);
  const kind = rng.weighted<string>([
    [14, 'valid'],
    [30, 'mutated'],
    [10, 'mutated bytes'],
    [8, 'random json'],
    [8, 'odd topic'],
    [8, 'garbage since'],
    [4, 'deep json'],
    [3, 'huge'],
    [4, 'binary'],
    [6, 'binary frame'],
    [8, 'mutated binary'],
    [3, 'invalid utf-8'],
    [4, 'garbage text'],
    [4, 'connect'],
    [6, 'burst'],
    [5, 'http'],
    [2, 'abandon'],
  ]);
  const json = (value: unknown): CaseAction => ({ send: 'text', payload: text(JSON.stringify(value) ?? 'undefined') });
  let action: CaseAction;
  let detail = '';
  switch (kind) {
    case 'valid':
      action = json(op.valid(rng, id));
      detail = op.type;
      break;
    case 'mutated': {
      const mutated = mutateObject(rng, op.valid(rng, id), id);
      action = json(mutated.frame);
      detail = `${op.type}: ${mutated.kind}`;
      break;
    }
    case 'mutated bytes':
      action = { send: 'text', payload: mutateBytes(rng, text(JSON.stringify(op.valid(rng, id)))) };
      detail = op.type;
      break;
    case 'random json':
      action = json(rng.chance(0.5) ? randomJson(rng, 4) : { type: rng.pick(OPERATIONS).type, ...(randomJson(rng, 3) as object) });
      break;
    case 'odd topic':
      action = json(rng.chance(0.5) ? { type: rng.pick(['subscribe', 'unsubscribe']), id, topics: [oddTopic(rng)] } : { type: 'publish', id, topic: oddTopic(rng), data: 1 });
      break;
    case 'garbage since': {
      const topics = Array.from({ length: rng.range(1, 3) }, () => validTopic(rng));
      action = json({ type: 'subscribe', id, topics, since: randomSince(rng, topics) });
      break;
    }
    case 'deep json':
      action = { send: 'text', payload: text(deepJson(rng, limits)) };
      break;
    case 'huge':
      action = { send: 'text', payload: text(hugeFrame(rng, limits)) };
      break;
    case 'binary':
      action = { send: 'binary', payload: rng.chance(0.5) ? text(JSON.stringify(op.valid(rng, id))) : rng.bytes(rng.range(0, 300)) };
      break;
    case 'binary frame': {
      const frame = rng.pick(BINARY_OPERATIONS).valid(rng, id);
      action = { send: 'binary', payload: binaryFrame(rng, frame) };
      detail = `${String(frame.type)}, ${String(frame.size)} bytes`;
      break;
    }
    case 'mutated binary': {
      const frame = rng.pick(BINARY_OPERATIONS).valid(rng, id);
      frame.size = rng.range(0, 64);
      const mutated = mutateBinary(rng, binaryFrame(rng, frame), frame);
      action = { send: 'binary', payload: mutated.bytes };
      detail = `${String(frame.type)}: ${mutated.kind}`;
      break;
    }
    case 'invalid utf-8':
      action = { send: 'text', payload: invalidUtf8(rng) };
      break;
    case 'garbage text':
      action = { send: 'text', payload: text(rng.pick<() => string>([() => randomUnicode(rng, rng.range(0, 50)), () => '', () => ' ', () => 'null', () => '"ping"', () => '{', () => '{"type":"ping","id":"1"}{"type":"ping","id":"2"}', () => '{"type":"ping","type":"subscribe","id":"d","topics":["news"]}'])()) };
      break;
    case 'burst':
      // Valid and mutated frames of the same few topics, so that subscribes, unsubscribes and
      // publishes of one topic overlap.
      action = {
        send: 'burst',
        payloads: Array.from({ length: rng.range(2, 8) }, (_, j) => {
          const frame = rng.pick(OPERATIONS).valid(rng, `${id}.${j}`);
          if ('topics' in frame) frame.topics = [rng.pick(['news', 'room:1', 'burst'])];
          if ('topic' in frame) frame.topic = rng.pick(['news', 'room:1', 'burst']);
          return text(JSON.stringify(rng.chance(0.25) ? mutateObject(rng, frame, `${id}.${j}`).frame : frame) ?? 'null');
        }),
      };
      break;
    case 'http':
      action = httpCase(rng, limits, creds);
      break;
    case 'abandon':
      action = {
        send: 'abandon',
        payloads: [
          text(JSON.stringify({ type: 'subscribe', id: `${id}.0`, topics: SHARED_TOPICS.slice(0, rng.range(1, SHARED_TOPICS.length)), since: { news: '0-0', canary: '0-0', 'room:1': '0-0' } })),
          ...Array.from({ length: rng.range(0, 4) }, (_, j) => text(JSON.stringify(rng.pick(OPERATIONS).valid(rng, `${id}.${j + 1}`)))),
        ],
      };
      break;
    default:
      action = connectCase(rng, creds);
  }
  return { ...action, index, kind: detail ? `${kind} (${detail})` : kind };
}
