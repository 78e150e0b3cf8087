/**
 * The format of an inbox stream entry, in one place: written by RedisInbox.send and by the
 * PUBLISH script (lua/publish.lua, which completes runHead below), read by the inbox reader
 * and the reaper. Two shapes:
 *
 * - **envelope entry**: `e` the envelope's JSON; for a topic message or a direct message
 *   without its `data`, which goes as it is in `d` (JSON text already: no escaping on the way
 *   in, no unescaping on the way out). The user send script (lua/userSend.lua) writes direct
 *   entries from directHead below;
 * - **run entry**: consecutive messages of one topic, as the PUBLISH script writes them: `e`
 *   the run head `{"kind":"message","app":…,"topic":…,"ts":…,"prev":…,"offsets":[…]}`, then
 *   one `d` field per message. Message i has offset `offsets[i]` and prev `offsets[i - 1]`
 *   (`prev` for the first). `ts` is the publish time (ms, the publisher's clock) of the whole
 *   run, which one script call appends at once.
 */
import * as v from 'valibot';
import { EnvelopeSchema, type Envelope, type TopicMessageEnvelope } from '../../protocol/envelope.ts';
import { AppIdSchema, TopicSchema } from '../../protocol/names.ts';
import { OffsetSchema } from '../../protocol/offset.ts';
import { parseJson } from '../../lib/json.ts';
import { field } from './streamEntries.ts';

/** The fields of an envelope entry. */
export function encodeEntry(envelope: Envelope): string[] {
  // Job replies and presence events have no payload of their own to keep apart.
  if (envelope.kind === 'rpc' || envelope.kind === 'presence') return ['e', JSON.stringify(envelope)];
  const { data, ...rest } = envelope;
  return ['e', JSON.stringify(rest), 'd', data];
}

/**
 * The start of a run entry's head, up to the comma after the topic: the PUBLISH script
 * appends `"prev":"<offset>","offsets":["<offset>",…]}` once it knows the offsets.
 */
export function runHead(app: string, topic: string, publishedAtMs: number): string {
  return `{"kind":"message","app":${JSON.stringify(app)},"topic":${JSON.stringify(topic)},"ts":${publishedAtMs},`;
}

/**
 * The start of a direct envelope entry's `e`, up to the comma after `from`: the user send
 * script appends `"messageId":"<id>","prev":"<id>"}` once it knows the ID.
 */
export function directHead(app: string, user: string, from: string | null): string {
  return `{"kind":"direct","app":${JSON.stringify(app)},"user":${JSON.stringify(user)},"from":${JSON.stringify(from)},`;
}

const RunHeadSchema = v.object({
  kind: v.literal('message'),
  app: AppIdSchema,
  topic: TopicSchema,
  ts: v.optional(v.number()),
  prev: OffsetSchema,
  offsets: v.pipe(v.array(OffsetSchema), v.minLength(1)),
});

/** Reads an entry's fields back (either shape): its envelopes, or null when they are not valid. */
export function decodeEntry(fields: string[]): Envelope[] | null {
  const text = field(fields, 'e');
  if (text === undefined) return null;
  const json = parseJson(text);
  if (typeof json !== 'object' || json === null) return null;
  if ('offsets' in json) {
    const run = v.safeParse(RunHeadSchema, json);
    if (!run.success) return null;
    const { app, topic, offsets, ts } = run.output;
    const data: string[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'd') data.push(fields[i + 1]!);
    if (data.length !== offsets.length) return null;
    let prev = run.output.prev;
    return offsets.map((offset, i) => {
      const envelope: TopicMessageEnvelope = ts === undefined ? { kind: 'message', app, topic, offset, prev, data: data[i]! } : { kind: 'message', app, topic, offset, prev, data: data[i]!, ts };
      prev = offset;
      return envelope;
    });
  }
  const data = field(fields, 'd');
  if (data !== undefined) (json as { data?: string }).data = data;
  const parsed = v.safeParse(EnvelopeSchema, json);
  return parsed.success ? [parsed.output] : null;
}
