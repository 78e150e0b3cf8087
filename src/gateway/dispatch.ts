/**
 * Envelope dispatch: what this instance does with each kind of envelope its inbox delivers.
 * One handler per kind, checked by the compiler: a new kind of envelope (a direct message,
 * a presence event) is one more entry in the table.
 */
import type { EnvelopeHandler } from '../cluster/inbox.ts';
import type { Envelope } from '../protocol/envelope.ts';

/** A handler per envelope kind; a promise means "acknowledge only once it settles". */
export type EnvelopeHandlers = {
  [K in Envelope['kind']]: (envelope: Extract<Envelope, { kind: K }>) => Promise<void> | void;
};

/** The inbox handler: hands each envelope of a batch to its kind's handler, in inbox order. */
export function dispatchEnvelopes(handlers: EnvelopeHandlers): EnvelopeHandler {
  return (envelopes) => {
    let pending: Promise<void>[] | null = null;
    for (const envelope of envelopes) {
      const handle = handlers[envelope.kind] as (e: Envelope) => Promise<void> | void;
      const done = handle(envelope);
      if (done) (pending ??= []).push(done);
    }
    if (pending) return Promise.all(pending).then(() => {});
  };
}
