/**
 * The binary frame codec (src/protocol/binary.ts) against the layout of docs/protocol.md,
 * byte for byte: the worked example, every kind, `from` null, UTF-8 names, and frames that
 * are empty, of an unknown kind, truncated or whose lengths overrun the frame (null, never a throw).
 */
import { describe, expect, test } from 'bun:test';
import {
  BinaryKind,
  decodeBinaryServerFrame,
  encodeBinaryDirect,
  encodeBinaryMessage,
  encodeBinaryPublish,
  encodeBinarySend,
} from '../../src/protocol/binary.ts';

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
const bytesOf = (text: string) => new Uint8Array(text.split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16)));

describe('server -> client', () => {
  test('the worked example of docs/protocol.md: topic news, offset 1795240083458-0, payload CA FE 01', () => {
    const frame = bytesOf('01 00 04 6E 65 77 73 0F 31 37 39 35 32 34 30 30 38 33 34 35 38 2D 30 CA FE 01');
    expect(hex(encodeBinaryMessage('news', '1795240083458-0', new Uint8Array([0xca, 0xfe, 0x01])))).toBe(hex(frame));
    const decoded = decodeBinaryServerFrame(frame);
    expect(decoded).toEqual({ type: 'message', topic: 'news', offset: '1795240083458-0', data: new Uint8Array([0xca, 0xfe, 0x01]) });
  });

  test('a direct message from a user, and from nobody (fromLen 0xFFFF)', () => {
    const fromAlice = encodeBinaryDirect('17-0', 'alice', new Uint8Array([9]));
    expect(hex(fromAlice)).toBe('02 04 31 37 2d 30 00 05 61 6c 69 63 65 09');
    expect(decodeBinaryServerFrame(fromAlice)).toEqual({ type: 'direct', messageId: '17-0', from: 'alice', data: new Uint8Array([9]) });
    const fromServer = encodeBinaryDirect('17-1', null, new Uint8Array([1, 2]));
    expect(hex(fromServer)).toBe('02 04 31 37 2d 31 ff ff 01 02');
    expect(decodeBinaryServerFrame(fromServer)).toEqual({ type: 'direct', messageId: '17-1', from: null, data: new Uint8Array([1, 2]) });
  });

  test('an empty payload, a UTF-8 topic length counted in bytes, a 64 KiB payload as a view', () => {
    expect(decodeBinaryServerFrame(encodeBinaryMessage('t', '1-0', new Uint8Array(0)))).toEqual({ type: 'message', topic: 't', offset: '1-0', data: new Uint8Array(0) });
    const frame = encodeBinaryDirect('1-0', 'zoë', new Uint8Array([1]));
    expect(frame[5]! * 256 + frame[6]!).toBe(4); // "zoë" is 4 bytes
    expect(decodeBinaryServerFrame(frame)).toMatchObject({ from: 'zoë' });
    const big = new Uint8Array(65_536).map((_, i) => i % 251);
    const decoded = decodeBinaryServerFrame(encodeBinaryMessage('big', '2-0', big));
    expect(decoded?.data).toEqual(big);
  });

  test('malformed frames decode to null', () => {
    const good = encodeBinaryMessage('news', '1-0', new Uint8Array([1]));
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['unknown kind', bytesOf('7f 00 01 61')],
      ['a client kind', encodeBinaryPublish('1', 'news', new Uint8Array([1]))],
      ['kind only', bytesOf('01')],
      ['half a topic length', bytesOf('01 00')],
      ['topic length overruns', bytesOf('01 00 09 6e 65 77 73')],
      ['no offset length', bytesOf('01 00 04 6e 65 77 73')],
      ['offset length overruns', bytesOf('01 00 01 6e 05 31 2d')],
      ['topic not UTF-8', bytesOf('01 00 01 ff 03 31 2d 30')],
      ['direct: id overruns', bytesOf('02 09 31')],
      ['direct: no from length', bytesOf('02 01 31')],
      ['direct: from overruns', bytesOf('02 01 31 00 08 61')],
      ['truncated good frame', good.subarray(0, 5)],
    ];
    for (const [what, frame] of cases) expect([what, decodeBinaryServerFrame(frame)]).toEqual([what, null]);
  });
});

describe('client -> server', () => {
  test('publish: 0x11, u8 id length, u16 topic length, payload', () => {
    expect(hex(encodeBinaryPublish('c1', 'news', new Uint8Array([0xca, 0xfe])))).toBe('11 02 63 31 00 04 6e 65 77 73 ca fe');
  });

  test('send: 0x12, u8 id length, u8 user length, payload', () => {
    expect(hex(encodeBinarySend('c2', 'bob', new Uint8Array([0])))).toBe('12 02 63 32 03 62 6f 62 00');
  });

  test('a field longer than its length prefix is refused before anything is built', () => {
    expect(() => encodeBinaryPublish('x'.repeat(256), 'news', new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeBinarySend('1', 'u'.repeat(256), new Uint8Array(0))).toThrow(RangeError);
    expect(BinaryKind).toEqual({ TopicMessage: 0x01, Direct: 0x02, Publish: 0x11, Send: 0x12 });
  });
});
