/**
 * Parsing of stream replies (XRANGE, XREADGROUP, XAUTOCLAIM) into typed entries, and the one
 * rule for a payload's bytes in Redis.
 *
 * Payloads are stored as they are: JSON text in a `d` field, the bytes of a binary message in
 * a `b` field (history streams, inboxes, user inboxes). Lua strings and Redis values are
 * binary safe; ioredis is too, given Buffers: arguments that are Buffers go out as they are,
 * and a reply read with Buffer replies (readStreamBuffers, the scripts' `…Buffer` commands) comes
 * back as the bytes Redis holds. Entries that may hold payloads are therefore read with
 * Buffer replies and turned into text here, except `b` values, which stay bytes. ioredis
 * parses every reply into Buffers and converts them to strings afterwards anyway: reading
 * text this way costs what a string reply costs.
 */
import type { Payload } from '../../protocol/envelope.ts';
import type { RedisClient } from './connection.ts';

/** A field value of an entry read with Buffer replies: text, or the bytes of a `b` field. */
export type FieldValue = string | Uint8Array;

/** An entry read with Buffer replies (see dataEntries). */
export type DataEntry = [id: string, fields: FieldValue[]];

/** The value of `field` in an entry's flat field list. */
export function field<T extends FieldValue>(fields: readonly T[], name: string): T | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** The field name and value a payload is stored under: JSON text in `d`, bytes in `b`. */
export function payloadField(data: Payload): ['d', string] | ['b', Buffer] {
  return typeof data === 'string' ? ['d', data] : ['b', asBuffer(data)];
}

/** The payload stored in an entry (its `d` or `b` field), if any. */
export function payloadOf(fields: readonly FieldValue[]): Payload | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'd' || fields[i] === 'b') return fields[i + 1];
  return undefined;
}

/**
 * A Buffer over the same memory: ioredis writes a Buffer argument as bytes, but any other
 * Uint8Array through String() ("1,2,3").
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A stream read with Buffer replies: XRANGE, XREADGROUP or XAUTOCLAIM through ioredis's
 * `…Buffer` command methods. Not `callBuffer`: with auto-pipelining (on for every client
 * here), ioredis 6 drops the command name of a `callBuffer` call (its auto-pipeline puts the
 * name back for `call` only) and sends the first argument as the command.
 */
export function readStreamBuffers(client: RedisClient, command: 'xrange' | 'xreadgroup' | 'xautoclaim', ...args: (string | number)[]): Promise<unknown> {
  const method = (client as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[`${command}Buffer`]!;
  return method.apply(client, args);
}

/** A stream entry as a reply read with Buffer replies has it. */
export type RawEntry = [id: Buffer, fields: Buffer[] | null];

/** Entries of a reply read with Buffer replies: IDs and fields as text, except `b` values (see the header). */
export function dataEntries(raw: readonly (RawEntry | null)[]): DataEntry[] {
  const out: DataEntry[] = [];
  for (const entry of raw) {
    // XAUTOCLAIM lists a deleted-but-pending entry as nil, XREADGROUP with nil fields.
    if (entry === null) continue;
    const [id, rawFields] = entry;
    const fields: FieldValue[] = [];
    if (rawFields) {
      for (let i = 0; i + 1 < rawFields.length; i += 2) {
        const name = rawFields[i]!;
        const value = rawFields[i + 1]!;
        const binary = name.length === 1 && name[0] === 0x62; // 'b'
        fields.push(name.toString('latin1'), binary ? value : value.toString());
      }
    }
    out.push([id.toString('latin1'), fields]);
  }
  return out;
}

/** XREADGROUP (RESP2) for one stream, read with Buffer replies: [[key, [[id, fields], …]]] or null. */
export function readGroupEntries(reply: unknown): DataEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const stream = reply[0] as [Buffer, RawEntry[] | null];
  return dataEntries(stream[1] ?? []);
}
