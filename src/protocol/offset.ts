/**
 * Offsets are opaque to clients. Inside Switchyard they have the shape of a Redis Stream
 * entry ID, `<milliseconds>-<sequence>`, in every History implementation, so that the
 * in-memory and Redis backends order and compare them the same way.
 */
import * as v from 'valibot';

export const OffsetSchema = v.pipe(v.string(), v.regex(/^\d{1,16}-\d{1,16}$/, 'offset: <ms>-<seq>'));

/**
 * Negative when a < b, zero when equal, positive when a > b. Both must match OffsetSchema.
 * On the hot path (every delivery): digits are read in place, nothing is allocated.
 */
export function compareOffsets(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let ma = 0;
  for (; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c === 45) break; // '-'
    ma = ma * 10 + c - 48;
  }
  let sa = 0;
  for (i++; i < a.length; i++) sa = sa * 10 + a.charCodeAt(i) - 48;
  let j = 0;
  let mb = 0;
  for (; j < b.length; j++) {
    const c = b.charCodeAt(j);
    if (c === 45) break;
    mb = mb * 10 + c - 48;
  }
  let sb = 0;
  for (j++; j < b.length; j++) sb = sb * 10 + b.charCodeAt(j) - 48;
  return ma !== mb ? ma - mb : sa - sb;
}
