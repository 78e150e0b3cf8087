/** Parsing of stream replies (XRANGE, XREADGROUP, XAUTOCLAIM) into typed entries. */
import type { StreamEntry } from './scripts.ts';

/** The value of `field` in an entry's flat field list. */
export function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** XREADGROUP (RESP2) for one stream: [[key, [[id, fields], …]]] or null. */
export function readGroupEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const stream = reply[0] as [string, StreamEntry[]];
  // A deleted-but-pending entry comes back with null fields.
  return (stream[1] ?? []).map(([id, fields]) => [id, fields ?? []] as StreamEntry);
}
