/**
 * Binary frames: the layout of the WebSocket frames that carry a message whose data is bytes
 * (docs/protocol.md, "Binary frames"). Text frames stay JSON; a binary frame starts with a
 * kind byte, then length-prefixed names, then the payload as it is: the rest of the frame.
 * Integers are unsigned big-endian; names are UTF-8 (ASCII for offsets and message IDs).
 *
 *     0x01 message  (server):  u16 topicLen | topic | u8 offsetLen | offset | payload
 *     0x02 direct   (server):  u8 messageIdLen | messageId | u16 fromLen | from | payload
 *                              (fromLen 0xFFFF: from = null, the server API or the bridge)
 *     0x11 publish  (client):  u8 idLen | id | u16 topicLen | topic | payload
 *     0x12 send     (client):  u8 idLen | id | u8 toLen | to | payload
 *
 * Pure functions shared by the gateway and the client SDK: encoders for both directions, and
 * decoders that check every length against the frame and every name against its schema, so
 * that a malformed frame is an answer (`ok: false`, with the request ID when it could be
 * read), never an exception. Decoded payloads are views into the frame, not copies. Encoded
 * frames are backed by a plain ArrayBuffer, which WebSocket.send takes.
 */
import * as v from 'valibot';
import { describeIssue } from './issues.ts';
import { MessageIdSchema, RequestIdSchema, TopicSchema, UserIdSchema } from './names.ts';
import { OffsetSchema } from './offset.ts';

/** The first byte of a binary frame. */
export const BinaryKind = {
  /** Server to client: a topic message, the twin of `{"type":"message"}`. */
  Message: 0x01,
  /** Server to client: a direct message, the twin of `{"type":"direct"}`. */
  Direct: 0x02,
  /** Client to server: publish to a topic; answered by a JSON `ack` with `offset`, or an `error`. */
  Publish: 0x11,
  /** Client to server: a direct message to a user; answered by a JSON `ack` with `messageId`, or an `error`. */
  Send: 0x12,
} as const;

/** The fromLen of a direct message without a sending user (server API, bridge): from = null. */
export const NO_SENDER = 0xffff;

export interface BinaryMessageFrame {
  type: 'message';
  topic: string;
  offset: string;
  data: Uint8Array;
}

export interface BinaryDirectFrame {
  type: 'direct';
  messageId: string;
  from: string | null;
  data: Uint8Array;
}

export type BinaryServerFrame = BinaryMessageFrame | BinaryDirectFrame;

export interface BinaryPublishFrame {
  type: 'publish';
  id: string;
  topic: string;
  data: Uint8Array;
}

export interface BinarySendFrame {
  type: 'send';
  id: string;
  to: string;
  data: Uint8Array;
}

export type BinaryClientFrame = BinaryPublishFrame | BinarySendFrame;

/** A decoded frame, or why it is not one; `id` is the request ID when it could be read before the fault. */
export type BinaryDecoded<F> = { ok: true; frame: F } | { ok: false; id: string | null; issue: string };

// ---- encoding ---------------------------------------------------------------------------

const encoder = new TextEncoder();

/** A name's UTF-8 bytes, checked against the width of its length field. */
function nameBytes(what: string, value: string, max: number): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.length > max) throw new RangeError(`${what}: ${bytes.length} bytes, at most ${max} fit its length field`);
  return bytes;
}

/** Writes the parts after the kind byte: each name with its length field (1 or 2 bytes), then the payload. */
function frame(kind: number, names: readonly [Uint8Array, 1 | 2, number?][], payload: Uint8Array): Uint8Array<ArrayBuffer> {
  let size = 1 + payload.length;
  for (const [bytes, width] of names) size += width + bytes.length;
  const out = new Uint8Array(size);
  out[0] = kind;
  let at = 1;
  for (const [bytes, width, length = bytes.length] of names) {
    if (width === 2) out[at++] = length >>> 8;
    out[at++] = length & 0xff;
    out.set(bytes, at);
    at += bytes.length;
  }
  out.set(payload, at);
  return out;
}

/** 0x01: a topic message for subscribers (built once per message, fanned out as it is). */
export function encodeBinaryMessage(topic: string, offset: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return frame(BinaryKind.Message, [[nameBytes('topic', topic, 0xffff), 2], [nameBytes('offset', offset, 0xff), 1]], payload);
}

/** 0x02: a direct message for its recipient's sessions; `from` null is written as fromLen 0xFFFF. */
export function encodeBinaryDirect(messageId: string, from: string | null, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const sender: [Uint8Array, 2, number?] = from === null ? [new Uint8Array(0), 2, NO_SENDER] : [nameBytes('from', from, NO_SENDER - 1), 2];
  return frame(BinaryKind.Direct, [[nameBytes('messageId', messageId, 0xff), 1], sender], payload);
}

/** 0x11: a client's publish of bytes to a topic. */
export function encodeBinaryPublish(id: string, topic: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return frame(BinaryKind.Publish, [[nameBytes('id', id, 0xff), 1], [nameBytes('topic', topic, 0xffff), 2]], payload);
}

/** 0x12: a client's direct message of bytes to a user. */
export function encodeBinarySend(id: string, to: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return frame(BinaryKind.Send, [[nameBytes('id', id, 0xff), 1], [nameBytes('to', to, 0xff), 1]], payload);
}

// ---- decoding ---------------------------------------------------------------------------

/** fatal: a name that is not UTF-8 is refused, not patched; ignoreBOM: a leading U+FEFF stays part of it. */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Thrown inside the decoders only, turned into `ok: false` at their edge. */
class Malformed {
  constructor(readonly issue: string) {}
}

/** Reads a frame front to back; every read checks the frame's length first. */
class Cursor {
  at = 1;
  constructor(readonly bytes: Uint8Array) {}

  length(what: string, width: 1 | 2): number {
    if (this.at + width > this.bytes.length) throw new Malformed(`truncated: the frame ends before the length of ${what}`);
    const b = this.bytes;
    const n = width === 1 ? b[this.at]! : (b[this.at]! << 8) | b[this.at + 1]!;
    this.at += width;
    return n;
  }

  /** A length-prefixed name, checked against its schema. */
  name(what: string, width: 1 | 2, schema: v.GenericSchema<string, string>): string {
    return this.text(what, this.length(what, width), schema);
  }

  text(what: string, length: number, schema: v.GenericSchema<string, string>): string {
    if (this.at + length > this.bytes.length) {
      throw new Malformed(`${what} length ${length} overruns the frame (${this.bytes.length - this.at} bytes left)`);
    }
    let text: string;
    try {
      text = decoder.decode(this.bytes.subarray(this.at, this.at + length));
    } catch {
      throw new Malformed(`${what}: not UTF-8`);
    }
    this.at += length;
    const checked = v.safeParse(schema, text);
    if (!checked.success) {
      const issue = describeIssue(checked.issues[0]);
      throw new Malformed(issue.startsWith(`${what}:`) ? issue : `${what}: ${issue}`);
    }
    return checked.output;
  }

  rest(): Uint8Array {
    return this.bytes.subarray(this.at);
  }
}

function kindName(kind: number): string {
  return `0x${kind.toString(16).padStart(2, '0').toUpperCase()}`;
}

/** A client's binary frame (0x11 publish, 0x12 send), as the gateway reads it. */
export function decodeClientBinary(input: Uint8Array | ArrayBuffer): BinaryDecoded<BinaryClientFrame> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length === 0) return { ok: false, id: null, issue: 'empty binary frame' };
  const kind = bytes[0]!;
  if (kind !== BinaryKind.Publish && kind !== BinaryKind.Send) {
    return { ok: false, id: null, issue: `unknown binary frame kind ${kindName(kind)}; a client sends 0x11 (publish) or 0x12 (send)` };
  }
  const cursor = new Cursor(bytes);
  let id: string | null = null;
  try {
    id = cursor.name('id', 1, RequestIdSchema);
    if (kind === BinaryKind.Publish) {
      const topic = cursor.name('topic', 2, TopicSchema);
      return { ok: true, frame: { type: 'publish', id, topic, data: cursor.rest() } };
    }
    const to = cursor.name('to', 1, UserIdSchema);
    return { ok: true, frame: { type: 'send', id, to, data: cursor.rest() } };
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, id, issue: error.issue };
    throw error;
  }
}

/** A server's binary frame (0x01 message, 0x02 direct), as the client SDK reads it. */
export function decodeServerBinary(input: Uint8Array | ArrayBuffer): BinaryDecoded<BinaryServerFrame> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length === 0) return { ok: false, id: null, issue: 'empty binary frame' };
  const kind = bytes[0]!;
  if (kind !== BinaryKind.Message && kind !== BinaryKind.Direct) {
    return { ok: false, id: null, issue: `unknown binary frame kind ${kindName(kind)}; a server sends 0x01 (message) or 0x02 (direct)` };
  }
  const cursor = new Cursor(bytes);
  try {
    if (kind === BinaryKind.Message) {
      const topic = cursor.name('topic', 2, TopicSchema);
      const offset = cursor.name('offset', 1, OffsetSchema);
      return { ok: true, frame: { type: 'message', topic, offset, data: cursor.rest() } };
    }
    const messageId = cursor.name('messageId', 1, MessageIdSchema);
    const fromLength = cursor.length('from', 2);
    const from = fromLength === NO_SENDER ? null : cursor.text('from', fromLength, UserIdSchema);
    return { ok: true, frame: { type: 'direct', messageId, from, data: cursor.rest() } };
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, id: null, issue: error.issue };
    throw error;
  }
}
