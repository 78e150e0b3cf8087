/**
 * Configuration: environment variables parsed once, with valibot, into a frozen Config.
 * Every option has a default and carries its unit in its name. The README lists them all.
 * Only entry points (src/main/) call loadConfig; everything else receives what it needs.
 */
import * as v from 'valibot';
import { AppIdSchema, PROBE_APP } from './protocol/names.ts';
import { describeIssue } from './protocol/issues.ts';
import { parseJson } from './lib/json.ts';
import { describePublicKey } from './lib/publicKeys.ts';

const KeySchema = (what: string) => v.pipe(v.string(), v.minLength(16, `${what}: at least 16 characters`));
const OneOrTwoKeysSchema = (what: string) =>
  v.pipe(v.array(KeySchema(what)), v.minLength(1, `${what}: one or two keys`), v.maxLength(2, `${what}: one or two keys (two while rotating)`));

/** A public key for client tokens: a PEM string or a JWK object (see lib/publicKeys.ts). */
const PublicKeySchema = v.pipe(
  v.union([v.string(), v.looseObject({ kty: v.string() })], 'publicKeys: each a PEM string or a JWK object'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const described = describePublicKey(dataset.value);
    if (typeof described === 'string') addIssue({ message: `publicKeys: ${described}` });
  }),
);

/** A browser origin as the Origin header carries it: `scheme://host[:port]`, nothing else. */
const OriginSchema = v.pipe(
  v.string(),
  v.check((o) => URL.canParse(o) && new URL(o).origin === o, 'allowedOrigins: each an origin like https://app.example.com (scheme, host, port; no path or trailing slash)'),
);

/** One app: its clients and topics never meet another app's. */
export const AppSchema = v.pipe(
  v.object({
    id: AppIdSchema,
    /** Shorthand for `secrets: [secret]`, and for `apiKeys: [secret]` when `apiKeys` is absent. */
    secret: v.optional(KeySchema('secret')),
    /** HS256 keys of client tokens: both verify; the first also signs resume tokens. */
    secrets: v.optional(OneOrTwoKeysSchema('secrets')),
    /** Public keys of client tokens (RS256, ES256, EdDSA), PEM or JWK; each verifies. */
    publicKeys: v.optional(v.pipe(v.array(PublicKeySchema), v.minLength(1, 'publicKeys: at least one'), v.maxLength(4, 'publicKeys: at most 4'))),
    /** Bearer tokens of the server API: both are accepted. */
    apiKeys: v.optional(OneOrTwoKeysSchema('apiKeys')),
    /** Sessions without a token (userId null) are allowed. @default false */
    allowAnonymous: v.optional(v.boolean(), false),
    /** Clients may send `publish` frames (otherwise only the server API publishes). @default false */
    allowClientPublish: v.optional(v.boolean(), false),
    /** Browser origins that may open sessions; absent: any. Upgrades without an Origin header are allowed. */
    allowedOrigins: v.optional(v.pipe(v.array(OriginSchema), v.minLength(1, 'allowedOrigins: at least one (omit it to allow any)'))),
    /** Sessions of this app one instance holds at most; more are closed with 4004. @default unlimited */
    maxConnections: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1, 'maxConnections: at least 1'))),
    /** Publishes per second of this app on one instance (server API and clients together). @default unlimited */
    maxPublishPerSec: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1, 'maxPublishPerSec: at least 1'))),
    // ---- users (docs/users.md) ----
    /**
     * Clients may send direct messages (`send` frames) to the app's users. @default false
     * (left undefined rather than defaulted, so that app objects written before it stay valid)
     */
    allowDirect: v.optional(v.boolean()),
    /**
     * Sessions one user may hold at once across the cluster; a connection over it is refused
     * with close code 4504. Absent: no limit.
     */
    maxSessionsPerUser: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1, 'maxSessionsPerUser: at least 1'))),
    /**
     * Topic prefixes that track presence (join/leave frames, the presence request); `""` makes
     * every topic a presence topic. Absent: none. @default []
     */
    presenceTopics: v.optional(v.array(v.pipe(v.string(), v.maxLength(200, 'presenceTopics: prefixes of at most 200 characters')))),
  }),
  v.check((a) => !(a.secret !== undefined && a.secrets !== undefined), 'give secret or secrets, not both'),
  v.check((a) => a.secret !== undefined || a.secrets !== undefined || a.publicKeys !== undefined, 'a key for client tokens: secret, secrets or publicKeys'),
  // Resume tokens are MACed with the first secret, else the first API key (see Apps).
  v.check((a) => a.secret !== undefined || a.secrets !== undefined || a.apiKeys !== undefined, 'an app with publicKeys only needs secrets or apiKeys too (they sign resume tokens)'),
);
export type AppConfig = v.InferOutput<typeof AppSchema>;

const AppsSchema = v.pipe(
  v.array(AppSchema),
  v.minLength(1, 'at least one app'),
  v.check((apps) => new Set(apps.map((a) => a.id)).size === apps.length, 'app ids must be unique'),
  v.check((apps) => apps.every((a) => a.id !== PROBE_APP), `app id ${PROBE_APP} is reserved for the delivery probe`),
);

/** The development app served when APPS is not set. Its secret is public: never deploy it. */
export const DEMO_APP: AppConfig = Object.freeze({
  id: 'demo',
  secret: 'demo-secret-not-for-production',
  allowAnonymous: true,
  allowClientPublish: true,
  allowDirect: true,
  presenceTopics: ['room:'],
});

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** TCP port of the HTTP/WebSocket listener. */
  readonly port: number;
  readonly host: string;
  /** This instance's ID: names its inbox and its registry entry. */
  readonly instanceId: string;
  readonly region: string;
  /** Absent: in-memory single-instance mode. */
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key this deployment writes (lets runs and deployments share a server). */
  readonly redisKeyPrefix: string;
  /** REDIS_URL names a seed node of a Redis Cluster. */
  readonly redisCluster: boolean;
  /** Inbox entries read per XREADGROUP. */
  readonly inboxBatchSize: number;
  /** How long one XREADGROUP blocks waiting for entries. */
  readonly inboxBlockMs: number;
  /** Approximate cap on an inbox's length. */
  readonly inboxMaxLength: number;
  readonly amqpUrl: string | undefined;
  /** Prefix of every exchange and queue name (lets deployments and test runs share a broker). */
  readonly amqpPrefix: string;
  /** Type of the job and results queues; 'quorum' also makes jobs persistent. */
  readonly rpcQueueType: 'classic' | 'quorum';
  /** Unacknowledged updates the bridge holds at once. */
  readonly bridgePrefetch: number;
  /** Port of the bridge's health and metrics endpoints. */
  readonly bridgePort: number;
  /** An update (or job reply) redelivered within this window after it was stored is stored once. */
  readonly dedupeWindowMs: number;
  /** RPC: timeout when the client gives none, and the largest it may ask for. */
  readonly rpcDefaultTimeoutMs: number;
  readonly rpcMaxTimeoutMs: number;
  /** RPC: jobs one session may have running at once. */
  readonly rpcMaxPendingPerSession: number;
  /** How long a disconnected session can be resumed (and keeps its job results). */
  readonly resumeWindowMs: number;
  readonly apps: readonly AppConfig[];
  /** True when APPS was not set and the demo app is served. */
  readonly demoMode: boolean;
  readonly logLevel: LogLevel;
  /** Largest accepted client frame or publish body; larger gets `too_large`. */
  readonly maxFrameBytes: number;
  readonly maxSubscriptionsPerSession: number;
  /** Messages kept per topic for recovery by offset. */
  readonly historySize: number;
  /** Messages older than this are dropped from history. */
  readonly historyMaxAgeMs: number;
  /** Sustained client frames per second per session, and the burst allowed above it. */
  readonly rateLimitFramesPerSec: number;
  readonly rateLimitBurst: number;
  /** Bytes queued towards one slow client before it is disconnected with 4001. */
  readonly sendBufferLimitBytes: number;
  /** Seconds without traffic (pongs count) before the runtime closes a connection. */
  readonly idleTimeoutSec: number;
  /** On shutdown, how long sessions get to leave after the drain notice. */
  readonly drainTimeoutMs: number;
  /** `hash`: connections that name a room go to the room's home instance (consistent hashing). */
  readonly routing: 'none' | 'hash';
  /** Hash routing: sessions whose room moved to another instance are told to reconnect spread over this long. */
  readonly rebalanceWindowMs: number;
  /** How often this instance refreshes its registry entry. */
  readonly heartbeatIntervalMs: number;
  /** An instance whose last heartbeat is older than this is dead. */
  readonly instanceTtlMs: number;
  /** Most members listed by a topic's presence (its `count` stays exact). */
  readonly presenceMaxMembers: number;

  // ---- security (docs/security.md) ----
  /** Bearer token for operator endpoints (GET /api/instances, /dashboard) besides any app's API key; absent: API keys only. */
  readonly operatorToken: string | undefined;
  /** Unconfirmed direct messages kept per user; older ones are dropped (and the inbox marked lost). */
  readonly userInboxMaxLength: number;
  /** Unconfirmed direct messages older than this are dropped (and the inbox marked lost). */
  readonly userInboxTtlMs: number;

  // ---- operations (docs/operations.md) ----
  /** On shutdown, the drain notices (4000) are spread over this long; at most DRAIN_TIMEOUT_MS. */
  readonly drainWindowMs: number;
  /** How often the instance sends a probe through its own delivery path. */
  readonly probeIntervalMs: number;
  /** /readyz fails when no probe came back for this long. */
  readonly probeTimeoutMs: number;
  /** Several processes share PORT (SO_REUSEPORT; the supervisor sets it for its instances). */
  readonly reusePort: boolean;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly expected: string) {
    super(`${variable}: expected ${expected}`);
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function str(env: Env, name: string, fallback: string, pattern: RegExp, what: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!pattern.test(raw)) throw new ConfigError(name, `${what}, got ${JSON.stringify(raw)}`);
  return raw;
}

function optionalStr(env: Env, name: string, pattern: RegExp, what: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!pattern.test(raw)) throw new ConfigError(name, what);
  return raw;
}

function url(env: Env, name: string, schemes: readonly string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const parsed = URL.canParse(raw) ? new URL(raw) : null;
  if (!parsed || !schemes.includes(parsed.protocol.replace(/:$/, ''))) {
    throw new ConfigError(name, `a ${schemes.join(':// or ')}:// URL`);
  }
  return raw;
}

function apps(env: Env): { apps: AppConfig[]; demoMode: boolean } {
  const raw = env.APPS;
  if (raw === undefined || raw === '') return { apps: [DEMO_APP], demoMode: true };
  const json = parseJson(raw);
  if (json === undefined) throw new ConfigError('APPS', 'a JSON array like [{"id":"app1","secret":"<16+ chars>"}], got invalid JSON');
  const result = v.safeParse(AppsSchema, json);
  if (!result.success) {
    throw new ConfigError('APPS', `a JSON array of {id, secret | secrets | publicKeys, apiKeys?, allowAnonymous?, allowClientPublish?, allowedOrigins?, maxConnections?, maxPublishPerSec?, presenceTopics?, allowDirect?, maxSessionsPerUser?}; ${describeIssue(result.issues[0])}`);
  }
  return { apps: result.output.map((a) => Object.freeze(a)), demoMode: false };
}

/** The operations options (docs/operations.md): drain pacing, the delivery probe, the shared port. */
function operations(env: Env): Pick<Config, 'drainWindowMs' | 'probeIntervalMs' | 'probeTimeoutMs' | 'reusePort'> {
  const drainTimeoutMs = int(env, 'DRAIN_TIMEOUT_MS', 10_000, 0, 600_000);
  // Half the drain: the sessions told last still get as long to leave as the window took.
  const drainWindowMs = int(env, 'DRAIN_WINDOW_MS', Math.floor(drainTimeoutMs / 2), 0, 600_000);
  if (drainWindowMs > drainTimeoutMs) {
    throw new ConfigError('DRAIN_WINDOW_MS', `at most DRAIN_TIMEOUT_MS (${drainTimeoutMs}): the drain notices go out within the drain, got ${drainWindowMs}`);
  }
  const probeIntervalMs = int(env, 'PROBE_INTERVAL_MS', 2000, 50, 60_000);
  const probeTimeoutMs = int(env, 'PROBE_TIMEOUT_MS', 10_000, 100, 600_000);
  if (probeTimeoutMs <= probeIntervalMs) {
    throw new ConfigError('PROBE_TIMEOUT_MS', `more than PROBE_INTERVAL_MS (${probeIntervalMs}), got ${probeTimeoutMs}`);
  }
  const reusePort = str(env, 'REUSE_PORT', 'false', /^(true|false)$/, 'true or false') === 'true';
  return { drainWindowMs, probeIntervalMs, probeTimeoutMs, reusePort };
}

function randomInstanceId(): string {
  return `i-${crypto.randomUUID().slice(0, 8)}`;
}

/** Parses the environment once. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
  const fromFly = env.FLY_MACHINE_ID && idPattern.test(env.FLY_MACHINE_ID) ? env.FLY_MACHINE_ID : undefined;
  const configured = apps(env);
  const logLevel = str(env, 'LOG_LEVEL', 'info', new RegExp(`^(${LOG_LEVELS.join('|')})$`), `one of ${LOG_LEVELS.join(', ')}`);
  return Object.freeze({
    port: int(env, 'PORT', 8080, 0, 65535),
    host: str(env, 'HOST', '0.0.0.0', /^[A-Za-z0-9.:[\]-]{1,255}$/, 'a host name or IP address'),
    instanceId: str(env, 'INSTANCE_ID', fromFly ?? randomInstanceId(), idPattern, '1-64 of A-Z a-z 0-9 _ -'),
    region: str(env, 'REGION', env.FLY_REGION || 'local', /^[A-Za-z0-9_-]{1,32}$/, '1-32 of A-Z a-z 0-9 _ -'),
    redisUrl: url(env, 'REDIS_URL', ['redis', 'rediss']),
    redisKeyPrefix: str(env, 'REDIS_KEY_PREFIX', 'sy:', /^[A-Za-z0-9_:.-]{0,64}$/, '0-64 of A-Z a-z 0-9 _ : . -'),
    redisCluster: str(env, 'REDIS_CLUSTER', 'false', /^(true|false)$/, 'true or false') === 'true',
    inboxBatchSize: int(env, 'INBOX_BATCH_SIZE', 512, 1, 100_000),
    inboxBlockMs: int(env, 'INBOX_BLOCK_MS', 2000, 10, 60_000),
    inboxMaxLength: int(env, 'INBOX_MAX_LENGTH', 100_000, 100, 100_000_000),
    amqpUrl: url(env, 'AMQP_URL', ['amqp', 'amqps']),
    amqpPrefix: str(env, 'AMQP_PREFIX', 'switchyard', /^[A-Za-z0-9_.:-]{1,64}$/, '1-64 of A-Z a-z 0-9 _ . : -'),
    rpcQueueType: str(env, 'RPC_QUEUE_TYPE', 'classic', /^(classic|quorum)$/, 'classic or quorum') as 'classic' | 'quorum',
    bridgePrefetch: int(env, 'BRIDGE_PREFETCH', 256, 1, 65_535),
    bridgePort: int(env, 'BRIDGE_PORT', 8090, 0, 65535),
    dedupeWindowMs: int(env, 'DEDUPE_WINDOW_MS', 600_000, 1000, 86_400_000),
    rpcDefaultTimeoutMs: int(env, 'RPC_DEFAULT_TIMEOUT_MS', 30_000, 10, 3_600_000),
    rpcMaxTimeoutMs: int(env, 'RPC_MAX_TIMEOUT_MS', 300_000, 10, 86_400_000),
    rpcMaxPendingPerSession: int(env, 'RPC_MAX_PENDING_PER_SESSION', 100, 1, 100_000),
    resumeWindowMs: int(env, 'RESUME_WINDOW_MS', 60_000, 0, 86_400_000),
    apps: Object.freeze(configured.apps),
    demoMode: configured.demoMode,
    logLevel: logLevel as LogLevel,
    maxFrameBytes: int(env, 'MAX_FRAME_BYTES', 64 * 1024, 256, 16 * 1024 * 1024),
    maxSubscriptionsPerSession: int(env, 'MAX_SUBSCRIPTIONS_PER_SESSION', 100, 1, 100_000),
    historySize: int(env, 'HISTORY_SIZE', 1000, 1, 10_000_000),
    historyMaxAgeMs: int(env, 'HISTORY_MAX_AGE_MS', 24 * 3600 * 1000, 1000, 365 * 24 * 3600 * 1000),
    rateLimitFramesPerSec: int(env, 'RATE_LIMIT_FRAMES_PER_SEC', 100, 1, 1_000_000),
    rateLimitBurst: int(env, 'RATE_LIMIT_BURST', 200, 1, 10_000_000),
    sendBufferLimitBytes: int(env, 'SEND_BUFFER_LIMIT_BYTES', 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    idleTimeoutSec: int(env, 'IDLE_TIMEOUT_SEC', 120, 0, 960),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 10_000, 0, 600_000),
    routing: str(env, 'ROUTING', 'none', /^(none|hash)$/, 'none or hash') as 'none' | 'hash',
    rebalanceWindowMs: int(env, 'REBALANCE_WINDOW_MS', 10_000, 0, 600_000),
    heartbeatIntervalMs: int(env, 'HEARTBEAT_INTERVAL_MS', 2000, 100, 60_000),
    instanceTtlMs: int(env, 'INSTANCE_TTL_MS', 10_000, 300, 600_000),
    presenceMaxMembers: int(env, 'PRESENCE_MAX_MEMBERS', 1000, 1, 100_000),
    // ---- security (docs/security.md) ----
    operatorToken: optionalStr(env, 'OPERATOR_TOKEN', /^[\x21-\x7e]{16,256}$/, '16-256 printable ASCII characters without spaces'),
    userInboxMaxLength: int(env, 'USER_INBOX_MAX_LENGTH', 1000, 1, 1_000_000),
    userInboxTtlMs: int(env, 'USER_INBOX_TTL_MS', 7 * 24 * 3600 * 1000, 1000, 365 * 24 * 3600 * 1000),
    ...operations(env),
  } satisfies Config);
}


