/**
 * Naming rules for app IDs, topics and client-chosen request IDs. Shared by server and
 * client so that both reject the same names.
 */
import * as v from 'valibot';

/** Printable ASCII without spaces; `:` is allowed in topics but never in app IDs. */
export const AppIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'app id: 1-64 of A-Z a-z 0-9 _ -'));

/**
 * Topics: 1-200 characters of letters, digits and `_ - . : @ / = # ,`. A bounded alphabet keeps
 * topics safe as Redis key parts (no `{` or `}`, which would change a key's hash slot; no
 * space or quote), log fields and metric labels. `#` and `,` make user-limited topics
 * (`dialog#alice,bob`, see gateway/permissions.ts).
 */
export const TopicSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_\-.:@/=#,]{1,200}$/, 'topic: 1-200 of A-Z a-z 0-9 _ - . : @ / = # ,'),
);

/**
 * A topic pattern in a client token's `subscribe` or `publish` claim: a topic name, or a
 * prefix of one followed by `*` (`room:*`; `*` alone matches every topic).
 */
export const TopicPatternSchema = v.pipe(
  v.string(),
  v.regex(/^(?:[A-Za-z0-9_\-.:@/=#,]{1,200}|[A-Za-z0-9_\-.:@/=#,]{0,199}\*)$/, 'topic pattern: a topic, or a topic prefix followed by *'),
);

/** The app of the delivery probe's topics (docs/operations.md); no configured app may take it. */
export const PROBE_APP = '_probe';

/** Request IDs chosen by the client, echoed in ack/error/pong. */
export const RequestIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(64));

// ---- users (direct messages, user presence) ---------------------------------------------

/**
 * User IDs: a token's `sub`, and the `to` of a direct message. 1-128 characters of letters,
 * digits and `_ - . @ : = + |` (emails, `auth0|abc` subjects). No `{` or `}`: a user's Redis
 * keys carry the user ID inside a hash tag (`{u:<app>:<user>}`), which a brace would cut.
 */
export const UserIdSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_\-.@:=+|]{1,128}$/, 'user id: 1-128 of A-Z a-z 0-9 _ - . @ : = + |'),
);

/**
 * Direct message IDs: opaque to clients, strictly increasing per user. Inside Switchyard they
 * have the shape of a stream entry ID, like offsets.
 */
export const MessageIdSchema = v.pipe(v.string(), v.regex(/^\d{1,16}-\d{1,16}$/, 'message id: an ID of a direct message'));

/** Idempotency keys of direct messages (server API `id`, bridge `id`). */
export const IdempotencyKeySchema = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

/** Users named in one user presence request, at most. */
export const MAX_PRESENCE_USERS = 100;
