/**
 * The binary frame codec (src/protocol/binary.ts): the worked example of docs/protocol.md
 * byte for byte, round trips of the four kinds, and every malformed shape a decoder must
 * answer (with the request ID when it could be read) instead of throwing.
 */
import { describe, expect, test } from 'bun:test';
import {
  BinaryKind,
  decodeClientBinary,
  decodeServerBinary,
  encodeBinaryDirect,
  encodeBinaryMessage,
  encodeBinaryPublish,
  encodeBinarySend,
  NO_SENDER,
} from '../../src/protocol/binary.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (...values: (number | string)[]) =>
  Uint8Array.from(values.flatMap((v) => (typeof v === 'number' ? [v] : [...new TextEncoder().encode(v)])));

describe('the worked example of docs/protocol.md', () => {
  // Topic `news`, offset `1795240083458-0`, payload CA FE 01.
  const EXAMPLE = '01' + '0004' + '6e657773' + '0f' + '313739353234303038333435382d30' + 'cafe01';

  test('encodes to exactly the documented bytes', () => {
    expect(hex(encodeBinaryMessage('news', '1795240083458-0', new Uint8Array([0xca, 0xfe, 0x01])))).toBe(EXAMPLE);
  });

  test('decodes back to topic, offset and payload', () => {
    const decoded = decodeServerBinary(Buffer.from(EXAMPLE, 'hex'));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.frame).toEqual({ type: 'message', topic: 'news', offset: '1795240083458-0', data: new Uint8Array([0xca, 0xfe, 0x01]) });
  });
});

describe('round trips', () => {
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);

  test('message (0x01): every byte value, an empty payload, a long topic', () => {
    for (const [topic, payload] of [['room:1', every], ['t', new Uint8Array(0)], ['x'.repeat(200), new Uint8Array([0])]] as const) {
      const frame = encodeBinaryMessage(topic, '12-3', payload);
      expect(frame[0]).toBe(BinaryKind.Message);
      const decoded = decodeServerBinary(frame);
      expect(decoded).toEqual({ ok: true, frame: { type: 'message', topic, offset: '12-3', data: payload } });
    }
  });

  test('direct (0x02): from a user, and from nobody (fromLen 0xFFFF)', () => {
    const fromUser = encodeBinaryDirect('1-0', 'alice@example.com', every);
    expect(decodeServerBinary(fromUser)).toEqual({ ok: true, frame: { type: 'direct', messageId: '1-0', from: 'alice@example.com', data: every } });
    const fromNobody = encodeBinaryDirect('2-5', null, bytes(7));
    expect(hex(fromNobody)).toBe('02' + '03' + hex(bytes('2-5')) + 'ffff' + '07');
    expect(NO_SENDER).toBe(0xffff);
    expect(decodeServerBinary(fromNobody)).toEqual({ ok: true, frame: { type: 'direct', messageId: '2-5', from: null, data: bytes(7) } });
  });

  test('publish (0x11) and send (0x12): the layout of the spec, UTF-8 request IDs', () => {
    const publish = encodeBinaryPublish('r1', 'news', bytes(1, 2));
    expect(hex(publish)).toBe('11' + '02' + hex(bytes('r1')) + '0004' + hex(bytes('news')) + '0102');
    expect(decodeClientBinary(publish)).toEqual({ ok: true, frame: { type: 'publish', id: 'r1', topic: 'news', data: bytes(1, 2) } });
    const send = encodeBinarySend('é✓😀', 'bob', every);
    expect(hex(send.subarray(0, 2))).toBe('12' + '09');
    expect(decodeClientBinary(send)).toEqual({ ok: true, frame: { type: 'send', id: 'é✓😀', to: 'bob', data: every } });
    // An ArrayBuffer (a browser's binaryType) decodes the same.
    expect(decodeClientBinary(publish.slice().buffer)).toEqual(decodeClientBinary(publish));
  });

  test('the payload is a view into the frame, not a copy', () => {
    const frame = encodeBinaryPublish('r1', 'news', bytes(9, 9, 9));
    const decoded = decodeClientBinary(frame);
    if (!decoded.ok) throw new Error(decoded.issue);
    expect(decoded.frame.data.buffer).toBe(frame.buffer);
    expect(decoded.frame.data.byteOffset).toBe(frame.length - 3);
  });

  test('names too long for their length field are refused when encoding', () => {
    expect(() => encodeBinaryPublish('x'.repeat(256), 'news', bytes())).toThrow(RangeError);
    expect(() => encodeBinarySend('r', 'u'.repeat(256), bytes())).toThrow(RangeError);
    expect(() => encodeBinaryMessage('news', '1'.repeat(256), bytes())).toThrow(RangeError);
    expect(() => encodeBinaryDirect('1-0', 'u'.repeat(0xffff), bytes())).toThrow(RangeError);
  });
});

describe('malformed client frames get an answer, never an exception', () => {
  /** [frame, expected id, a word the issue must contain] */
  const cases: [string, Uint8Array, string | null, string][] = [
    ['an empty frame', bytes(), null, 'empty'],
    ['a server kind from a client', encodeBinaryMessage('news', '1-0', bytes(1)), null, 'unknown binary frame kind 0x01'],
    ['kind 0x00', bytes(0x00, 1, 'a'), null, 'kind 0x00'],
    ['kind 0xFF', bytes(0xff), null, 'kind 0xFF'],
    ['JSON sent as binary', bytes('{"type":"ping","id":"1"}'), null, 'kind 0x7B'],
    ['only the kind', bytes(0x11), null, 'truncated'],
    ['an id length that overruns the frame', bytes(0x11, 10, 'abc'), null, 'overruns'],
    ['an id of length 0', bytes(0x11, 0, 0, 4, 'news'), null, 'id'],
    ['an id of 65 characters', bytes(0x11, 65, 'x'.repeat(65), 0, 4, 'news'), null, 'id'],
    ['an id that is not UTF-8', bytes(0x11, 2, 0xc3, 0x28, 0, 4, 'news'), null, 'not UTF-8'],
    ['no topic length', bytes(0x11, 2, 'r1'), 'r1', 'truncated'],
    ['half a topic length', bytes(0x11, 2, 'r1', 0), 'r1', 'truncated'],
    ['a topic length that overruns the frame', bytes(0x11, 2, 'r1', 0, 5, 'news'), 'r1', 'overruns'],
    ['a topic length of 0xFFFF', bytes(0x11, 2, 'r1', 0xff, 0xff, 'news'), 'r1', 'overruns'],
    ['an empty topic', bytes(0x11, 2, 'r1', 0, 0, 1, 2), 'r1', 'topic'],
    ['a topic with a space', bytes(0x11, 2, 'r1', 0, 3, 'a b'), 'r1', 'topic'],
    ['a topic of 201 characters', bytes(0x11, 2, 'r1', 0, 201, 'x'.repeat(201)), 'r1', 'topic'],
    ['a topic that is not UTF-8', bytes(0x11, 2, 'r1', 0, 1, 0xff), 'r1', 'not UTF-8'],
    ['no user length', bytes(0x12, 2, 'r2'), 'r2', 'truncated'],
    ['a user length that overruns the frame', bytes(0x12, 2, 'r2', 9, 'bob'), 'r2', 'overruns'],
    ['an empty user', bytes(0x12, 2, 'r2', 0, 1), 'r2', 'user id'],
    ['a user with a brace', bytes(0x12, 2, 'r2', 3, 'a{b'), 'r2', 'user id'],
  ];
  for (const [what, frame, id, word] of cases) {
    test(what, () => {
      const decoded = decodeClientBinary(frame);
      expect(decoded.ok).toBe(false);
      if (decoded.ok) return;
      expect(decoded.id).toBe(id);
      expect(decoded.issue).toContain(word);
    });
  }

  test('every prefix of a valid frame is answered, never thrown', () => {
    const frame = encodeBinaryPublish('req-1', 'room:1', bytes(1, 2, 3));
    for (let n = 0; n <= frame.length; n++) {
      const decoded = decodeClientBinary(frame.subarray(0, n));
      // The header ends at 1 + 1 + 5 + 2 + 6 = 15 bytes: from there on the payload is whatever is left.
      expect(decoded.ok).toBe(n >= 15);
    }
  });
});

describe('malformed server frames (what the SDK reads)', () => {
  const cases: [string, Uint8Array, string][] = [
    ['an empty frame', bytes(), 'empty'],
    ['a client kind from a server', encodeBinaryPublish('r', 'news', bytes()), 'kind 0x11'],
    ['an offset that is not one', bytes(0x01, 0, 4, 'news', 3, 'abc'), 'offset'],
    ['an offset length that overruns the frame', bytes(0x01, 0, 4, 'news', 15, '1-0'), 'overruns'],
    ['a message ID that is not one', bytes(0x02, 1, 'x', 0xff, 0xff), 'message id'],
    ['a from length that overruns the frame', bytes(0x02, 3, '1-0', 0xff, 0xfe, 'a'), 'overruns'],
    ['no from length', bytes(0x02, 3, '1-0', 0), 'truncated'],
  ];
  for (const [what, frame, word] of cases) {
    test(what, () => {
      const decoded = decodeServerBinary(frame);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect(decoded.issue).toContain(word);
    });
  }
});
