/**
 * Binary WebSocket frames (protocol v1): a message whose data is bytes travels as a binary
 * frame whose tail is the payload, as is (no base64, no JSON escaping). The layout, shared by
 * the gateway and the client SDK, is documented in docs/protocol.md ("Binary frames"). All
 * integers are unsigned big-endian; topics, IDs and user IDs are UTF-8, offsets and message
 * IDs ASCII.
 *
 *   server -> client
 *   0x01 topic message: u16 topicLen | topic | u8 offsetLen | offset | payload
 *   0x02 direct:        u8 messageIdLen | messageId | u16 fromLen | from | payload
 *                       (fromLen 0xFFFF: from = null, the server API or the bridge)
 *   client -> server
 *   0x11 publish:       u8 idLen | id | u16 topicLen | topic | payload
 *   0x12 send:          u8 idLen | id | u8 toLen | to | payload
 *
 * Pure functions on Uint8Array: no Buffer, no runtime API, so browsers run it as is.
 */

export const BinaryKind = {
  TopicMessage: 0x01,
  Direct: 0x02,
  Publish: 0x11,
  Send: 0x12,
} as const;
export type BinaryKind = (typeof BinaryKind)[keyof typeof BinaryKind];

/** `fromLen` of a direct message from the server API or the bridge (no user). */
export const FROM_NONE = 0xffff;

/** The binary twin of `{"type":"message"}`: same topic, same offset order; `data` is the payload. */
export interface BinaryTopicMessage {
  type: 'message';
  topic: string;
  offset: string;
  data: Uint8Array;
}

/** The binary twin of `{"type":"direct"}`. */
export interface BinaryDirectMessage {
  type: 'direct';
  messageId: string;
  from: string | null;
  data: Uint8Array;
}

export type BinaryServerFrame = BinaryTopicMessage | BinaryDirectMessage;

const encoder = new TextEncoder();
// fatal: a name that is not UTF-8 makes the frame malformed instead of turning into U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Lays out: kind, then each field with its length prefix (1 or 2 bytes), then the payload. */
function layout(kind: number, fields: readonly { bytes: Uint8Array; lengthBytes: 1 | 2; name: string }[], payload: Uint8Array): Uint8Array<ArrayBuffer> {
  let size = 1 + payload.byteLength;
  for (const f of fields) {
    const max = f.lengthBytes === 1 ? 0xff : 0xfffe;
    if (f.bytes.byteLength > max) throw new RangeError(`${f.name}: at most ${max} bytes in a binary frame`);
    size += f.lengthBytes + f.bytes.byteLength;
  }
  const out = new Uint8Array(size);
  out[0] = kind;
  let at = 1;
  for (const f of fields) {
    if (f.lengthBytes === 2) out[at++] = f.bytes.byteLength >> 8;
    out[at++] = f.bytes.byteLength & 0xff;
    out.set(f.bytes, at);
    at += f.bytes.byteLength;
  }
  out.set(payload, at);
  return out;
}

// ---- client -> server -------------------------------------------------------------------

/** A 0x11 publish frame: `id` correlates the JSON `ack` (with `offset`) or `error`. */
export function encodeBinaryPublish(id: string, topic: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return layout(
    BinaryKind.Publish,
    [
      { bytes: encoder.encode(id), lengthBytes: 1, name: 'id' },
      { bytes: encoder.encode(topic), lengthBytes: 2, name: 'topic' },
    ],
    payload,
  );
}

/** A 0x12 send frame: a direct message to user `to`; the JSON `ack` carries its `messageId`. */
export function encodeBinarySend(id: string, to: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return layout(
    BinaryKind.Send,
    [
      { bytes: encoder.encode(id), lengthBytes: 1, name: 'id' },
      { bytes: encoder.encode(to), lengthBytes: 1, name: 'to' },
    ],
    payload,
  );
}

// ---- server -> client -------------------------------------------------------------------

/** A 0x01 topic message frame. */
export function encodeBinaryMessage(topic: string, offset: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  return layout(
    BinaryKind.TopicMessage,
    [
      { bytes: encoder.encode(topic), lengthBytes: 2, name: 'topic' },
      { bytes: encoder.encode(offset), lengthBytes: 1, name: 'offset' },
    ],
    payload,
  );
}

/** A 0x02 direct message frame (`from` null: written as length 0xFFFF with no bytes). */
export function encodeBinaryDirect(messageId: string, from: string | null, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const id = encoder.encode(messageId);
  if (from !== null) {
    return layout(
      BinaryKind.Direct,
      [
        { bytes: id, lengthBytes: 1, name: 'messageId' },
        { bytes: encoder.encode(from), lengthBytes: 2, name: 'from' },
      ],
      payload,
    );
  }
  const head = layout(BinaryKind.Direct, [{ bytes: id, lengthBytes: 1, name: 'messageId' }], new Uint8Array(0));
  const out = new Uint8Array(head.byteLength + 2 + payload.byteLength);
  out.set(head, 0);
  out[head.byteLength] = 0xff;
  out[head.byteLength + 1] = 0xff;
  out.set(payload, head.byteLength + 2);
  return out;
}

/** Reads length-prefixed fields front to back; every read checks the frame's bounds. */
class Reader {
  at = 1;
  constructor(readonly bytes: Uint8Array) {}

  length(size: 1 | 2): number | null {
    if (this.at + size > this.bytes.byteLength) return null;
    const n = size === 1 ? this.bytes[this.at]! : (this.bytes[this.at]! << 8) | this.bytes[this.at + 1]!;
    this.at += size;
    return n;
  }

  text(length: number): string | null {
    if (this.at + length > this.bytes.byteLength) return null;
    try {
      return decoder.decode(this.bytes.subarray(this.at, (this.at += length)));
    } catch {
      return null;
    }
  }

  /** The rest of the frame: a view, not a copy. */
  rest(): Uint8Array {
    return this.bytes.subarray(this.at);
  }
}

/**
 * Decodes a server -> client binary frame (0x01, 0x02); null when it is empty, of another
 * kind, or when a length overruns the frame. The payload is a view into `bytes`.
 */
export function decodeBinaryServerFrame(bytes: Uint8Array): BinaryServerFrame | null {
  if (bytes.byteLength === 0) return null;
  const r = new Reader(bytes);
  switch (bytes[0]) {
    case BinaryKind.TopicMessage: {
      const topicLength = r.length(2);
      const topic = topicLength === null ? null : r.text(topicLength);
      const offsetLength = topic === null ? null : r.length(1);
      const offset = offsetLength === null ? null : r.text(offsetLength);
      if (topic === null || offset === null) return null;
      return { type: 'message', topic, offset, data: r.rest() };
    }
    case BinaryKind.Direct: {
      const idLength = r.length(1);
      const messageId = idLength === null ? null : r.text(idLength);
      const fromLength = messageId === null ? null : r.length(2);
      if (messageId === null || fromLength === null) return null;
      const from = fromLength === FROM_NONE ? null : r.text(fromLength);
      if (fromLength !== FROM_NONE && from === null) return null;
      return { type: 'direct', messageId, from, data: r.rest() };
    }
    default:
      return null;
  }
}
