/**
 * Offsets are opaque to clients. Inside Switchyard they have the shape of a Redis Stream
 * entry ID, `<milliseconds>-<sequence>`, in every History implementation, so that the
 * in-memory and Redis backends order and compare them the same way.
 */
import * as v from 'valibot';

export const OffsetSchema = v.pipe(v.string(), v.regex(/^\d{1,16}-\d{1,16}$/, 'offset: <ms>-<seq>'));

/** Negative when a < b, zero when equal, positive when a > b. Both must match OffsetSchema. */
export function compareOffsets(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ma = Number(a.slice(0, da));
  const mb = Number(b.slice(0, db));
  if (ma !== mb) return ma - mb;
  return Number(a.slice(da + 1)) - Number(b.slice(db + 1));
}
