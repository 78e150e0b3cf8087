/**
 * Naming rules for app IDs, topics and client-chosen request IDs. Shared by server and
 * client so that both reject the same names.
 */
import * as v from 'valibot';

/** Printable ASCII without spaces; `:` is allowed in topics but never in app IDs. */
export const AppIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'app id: 1-64 of A-Z a-z 0-9 _ -'));

/**
 * Topics: 1-200 characters of letters, digits and `_ - . : @ / = #`. A bounded alphabet keeps
 * topics safe as Redis key parts, log fields and metric labels.
 */
export const TopicSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_\-.:@/=#]{1,200}$/, 'topic: 1-200 of A-Z a-z 0-9 _ - . : @ / = #'),
);

/** The app of the delivery probe's topics (docs/operations.md); no configured app may take it. */
export const PROBE_APP = '_probe';

/** Request IDs chosen by the client, echoed in ack/error/pong. */
export const RequestIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
