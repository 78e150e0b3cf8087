/**
 * Error codes and WebSocket close codes: the stable numbers and strings that clients
 * branch on. Both tables are documented in docs/protocol.md; change them only by adding.
 */

/** Codes carried by `{"type":"error"}` frames and HTTP error bodies. */
export const ErrorCode = {
  /** The frame is not JSON, not an object, has an unknown `type` or wrong field types. */
  InvalidFrame: 'invalid_frame',
  /** An HTTP request body that is not JSON or does not match the endpoint's schema. */
  InvalidRequest: 'invalid_request',
  /** Missing, malformed, wrongly signed or expired token. */
  Unauthorized: 'unauthorized',
  /** Authenticated, but the app does not allow this action (e.g. client publish). */
  Forbidden: 'forbidden',
  /** The frame or request body is bigger than the configured limit. */
  TooLarge: 'too_large',
  /** The session sends frames faster than its rate limit allows. */
  RateLimited: 'rate_limited',
  /** A per-session limit (subscriptions, topics per frame) would be exceeded. */
  LimitExceeded: 'limit_exceeded',
  /** The app named in the request does not exist. */
  UnknownApp: 'unknown_app',
  /** A route or resource that does not exist (HTTP only). */
  NotFound: 'not_found',
  /** The instance is not ready (e.g. its cluster backend is unreachable); retry elsewhere. */
  Unavailable: 'unavailable',
  /** Something failed on the server; the request may be retried. */
  Internal: 'internal',
  /** RPC: no result before the job's deadline (`timeoutMs`). */
  Timeout: 'timeout',
  /** RPC: no worker serves this method. */
  NoSuchMethod: 'no_such_method',
  /** RPC: the worker reported a failure. */
  JobFailed: 'job_failed',
  /**
   * Hash routing: the connection named a room whose home is another instance (HTTP 421,
   * before the WebSocket opens; the body and headers name that instance).
   */
  Misdirected: 'misdirected',
  /** Presence asked of a topic that does not track it (no prefix in the app's `presenceTopics`). */
  NoPresence: 'no_presence',

  // ---- users (direct messages) ----
  /** `received`: `upTo` is not the ID of one of this user's direct messages. */
  UnknownMessage: 'unknown_message',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * WebSocket close codes. 4000-4499: the client should reconnect (with backoff, possibly to
 * another instance) and resume with `since`. 4500-4999: terminal, reconnecting with the
 * same credentials will fail the same way. 1000-1015 keep their RFC 6455 meaning; 1007
 * (invalid UTF-8 in a text frame) and 1009 (a frame over the hard size limit) are sent by
 * the runtime.
 */
export const CloseCode = {
  Normal: 1000,
  /** RFC 6455 "going away"; treated like Draining. */
  GoingAway: 1001,
  /** RFC 6455 "invalid frame payload data": a text frame that is not UTF-8 (sent by the runtime). */
  InvalidPayload: 1007,
  /** RFC 6455 "message too big": a frame over the hard limit; terminal for that frame. */
  MessageTooBig: 1009,
  /** RFC 6455 "internal error". */
  InternalError: 1011,

  /** The instance is shutting down (deploy); reconnect to another one. */
  Draining: 4000,
  /** The session could not keep up with its messages (send buffer full); reconnect and resume. */
  SlowConsumer: 4001,
  /** The instance cannot serve (cluster backend unreachable); reconnect elsewhere. */
  NotReady: 4002,
  /** The session's token expired without a refresh; get a new token, reconnect and resume. */
  TokenExpired: 4003,
  /** The app has `maxConnections` sessions on this instance already; reconnect (elsewhere) later. */
  TooManyConnections: 4004,
  /**
   * Hash routing (ROUTING=hash): the session's room now lives on another instance (an
   * instance joined or left the ring); reconnect through the load balancer and resume.
   */
  RoomMoved: 4008,

  /** Missing, invalid or expired token. */
  Unauthorized: 4500,
  /** The app in the URL is not configured. */
  UnknownApp: 4501,
  /** The app does not allow this kind of session (e.g. anonymous). */
  Forbidden: 4502,
  /** Too many invalid frames in a row: the peer does not speak the protocol. */
  ProtocolViolation: 4503,
  /**
   * The user already has the app's `maxSessionsPerUser` sessions in the cluster. Terminal:
   * reconnecting with backoff fails the same way until one of the other sessions closes,
   * which the client cannot see; retry on the user's request instead.
   */
  TooManySessions: 4504,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Whether a client that saw this close code should reconnect. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4000 && code < 4500) return true;
  if (code >= 4500 && code < 5000) return false;
  return code !== CloseCode.Normal && code !== CloseCode.InvalidPayload && code !== CloseCode.MessageTooBig;
}
