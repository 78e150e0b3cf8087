/**
 * The fuzz runner: starts a real gateway process (`bun src/main/gateway.ts`, Redis backend),
 * a canary subscriber of another app on the same instance and a publisher feeding it a
 * numbered sequence, then sends the cases of cases.ts over several raw connections, one case
 * at a time per connection, and judges every answer:
 *
 * - a text frame that is not UTF-8 closes with 1007, one over the hard limit with 1009;
 * - a frame over MAX_FRAME_BYTES, one that is not JSON or not a valid frame, a binary frame
 *   that is not a valid binary publish or send (or whose payload is over MAX_FRAME_BYTES)
 *   gets exactly the `error` frame docs/protocol.md gives for it (`invalid_frame`,
 *   `too_large`) with the frame's id (or null) and the connection stays open;
 * - a valid frame gets the reply its entry in OPERATIONS expects;
 * - a new connection gets a welcome, or an `error` frame and the close code that the table of
 *   docs/protocol.md pairs with its code, or an HTTP error with a JSON body;
 *
 * and, over the whole run: the gateway never exits, the canary receives every message of its
 * sequence once and in order and nothing from the fuzzed app, and the gateway's resident
 * memory grows by at most `rssGrowthLimitMb`. A connection closed by a documented close is
 * replaced by a new one.
 */
import { readFileSync } from 'node:fs';
import { sign } from 'hono/jwt';
import { CloseCode, ErrorCode } from '../../src/protocol/codes.ts';
import { parseClientFrame } from '../../src/protocol/frames.ts';
import { decodeClientBinary } from '../../src/protocol/binary.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, type BridgeProcess } from '../support/bridgeProcess.ts';
import { PublishLog, sequenceProblems, type Published } from '../support/cluster.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';
import { BINARY_OPERATIONS, generateCase, OPERATIONS, SHARED_TOPICS, type FuzzCase, type FuzzCredentials, type FuzzLimits, type Reply } from './cases.ts';
import { Rng } from './random.ts';
import { Opcode, RawWebSocket, UpgradeRefused } from './rawSocket.ts';

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Index of the first case (to replay a stretch of a run). @default 0 */
  from?: number;
  /** Connections the cases are spread over. @default 4 */
  connections?: number;
  /** Allowed growth of the gateway's VmRSS from after start-up to the end of the run. @default 128 */
  rssGrowthLimitMb?: number;
}

export interface FuzzFailure {
  index: number;
  kind: string;
  /** The frame or query sent (cut to 300 characters). */
  sent: string;
  problem: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  seconds: number;
  failures: FuzzFailure[];
  /** Problems of the run as a whole: exit, canary, memory, leaks. */
  runProblems: string[];
  rssBeforeMb: number;
  rssAfterMb: number;
  rssPeakMb: number;
  canaryMessages: number;
  /** Connections replaced after a documented close. */
  reconnects: number;
  /** How often each reply type / error code / close code was seen. */
  outcomes: Record<string, number>;
  /** Error-level lines the gateway logged. */
  gatewayErrors: string[];
}

const FUZZ_APP = { id: 'fuzz', secret: 'fuzz-secret-0123456789abcdef', allowAnonymous: true, allowClientPublish: true };
const CANARY_APP = { id: 'canary', secret: 'canary-secret-0123456789abcdef', allowAnonymous: true };
const MAX_FRAME_BYTES = 64 * 1024;
/** As src/gateway/gateway.ts sets the runtime's maxPayloadLength. */
const LIMITS: FuzzLimits = { maxFrameBytes: MAX_FRAME_BYTES, hardFrameLimitBytes: Math.max(2 * MAX_FRAME_BYTES, MAX_FRAME_BYTES + 64 * 1024) };
/**
 * How long one case may wait for its answer before it counts as unanswered: above the jobs'
 * default deadline, so that a lost job shows as its `timeout` error rather than as silence.
 */
const ANSWER_TIMEOUT_MS = 20_000;
/**
 * The jobs' default deadline: far above a round trip through RabbitMQ, the worker and the
 * bridge even on a loaded machine, so that a `timeout` means a lost job or result.
 */
const RPC_DEFAULT_TIMEOUT_MS = 15_000;
/** Server frames that answer no request. */
const UNSOLICITED = new Set(['message', 'welcome', 'resumeToken', 'progress']);
/** docs/protocol.md: the close code a refused connection gets after its error frame. */
const REFUSAL_CLOSE: Record<string, number> = {
  [ErrorCode.Unauthorized]: CloseCode.Unauthorized,
  [ErrorCode.UnknownApp]: CloseCode.UnknownApp,
  [ErrorCode.Forbidden]: CloseCode.Forbidden,
  [ErrorCode.Unavailable]: CloseCode.NotReady,
};
const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function credentials(): Promise<FuzzCredentials> {
  const now = Math.floor(Date.now() / 1000);
  return {
    app: FUZZ_APP.id,
    otherApp: CANARY_APP.id,
    token: await sign({ sub: 'fuzzer', iat: now, exp: now + 3600 }, FUZZ_APP.secret, 'HS256'),
    apiSecret: FUZZ_APP.secret,
    otherApiSecret: CANARY_APP.secret,
    badTokens: [
      await sign({ sub: 'fuzzer', exp: now + 3600 }, CANARY_APP.secret, 'HS256'),
      await sign({ sub: 'fuzzer', exp: now - 3600 }, FUZZ_APP.secret, 'HS256'),
      await sign({ sub: 'fuzzer', nbf: now + 3600 }, FUZZ_APP.secret, 'HS256'),
      await sign({ sub: 'fuzzer' }, FUZZ_APP.secret, 'HS512'),
      await sign({ sub: 42 }, FUZZ_APP.secret, 'HS256'),
      await sign({ sub: 'x'.repeat(300) }, FUZZ_APP.secret, 'HS256'),
      await sign({ sub: '' }, FUZZ_APP.secret, 'HS256'),
      await sign({ sub: 'fuzzer', exp: 'never' as unknown as number }, FUZZ_APP.secret, 'HS256'),
      `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'fuzzer' })}.`,
      `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'fuzzer' })}.AAAA`,
      'a.b.c',
      '...',
      'not-a-jwt',
    ],
  };
}

function readRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}

function shown(c: FuzzCase): string {
  const raw =
    c.send === 'connect'
      ? `/ws?${c.query}`
      : c.send === 'http'
        ? `${c.method} ${c.path} ${JSON.stringify(c.headers)}${c.chunked ? ' chunked' : ''} ${c.body ? Buffer.from(c.body).toString('latin1') : ''}`
      : c.send === 'abandon'
        ? `abandoned: ${c.payloads.map((p) => Buffer.from(p).toString('latin1')).join(' | ')}`
      : c.send === 'burst'
        ? c.payloads.map((p) => Buffer.from(p).toString('latin1')).join(' | ')
        : c.send === 'binary'
          ? `binary ${Buffer.from(c.payload).toString('hex')}`
          : Buffer.from(c.payload).toString('latin1');
  return raw.length > 300 ? `${raw.slice(0, 300)}… (${raw.length} chars)` : raw;
}

type Expectation =
  | { close: number }
  | { error: ErrorCode; ids: (string | null)[] }
  | { valid: Record<string, unknown> };

/** What docs/protocol.md says the answer to this frame must be. */
function expectationFor(c: FuzzCase & { send: 'text' | 'binary' }): Expectation {
  if (c.send === 'binary') return binaryExpectation(c.payload);
  let raw: string;
  try {
    raw = new TextDecoder('utf-8', { fatal: true }).decode(c.payload);
  } catch {
    return { close: CloseCode.InvalidPayload };
  }
  if (c.payload.length > LIMITS.hardFrameLimitBytes) return { close: CloseCode.MessageTooBig };
  if (c.payload.length > LIMITS.maxFrameBytes) {
    // The id of a frame too large to parse is found, if at all, near its start.
    const peeked = /"id"\s*:\s*"([^"\\]{1,64})"/.exec(raw.slice(0, 256))?.[1] ?? null;
    return { error: ErrorCode.TooLarge, ids: [null, peeked] };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { error: ErrorCode.InvalidFrame, ids: [null] };
  }
  const parsed = parseClientFrame(json);
  if (parsed.ok) return { valid: json as Record<string, unknown> };
  const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
  return { error: ErrorCode.InvalidFrame, ids: [typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null] };
}

/**
 * What docs/protocol.md says a binary frame must get: the runtime's 1009 over the hard limit;
 * `invalid_frame` with the id when the frame got that far (as the codec reads it: its unit
 * tests pin every malformed shape); `too_large` for a payload over MAX_FRAME_BYTES; else the
 * reply of a valid publish or send.
 */
function binaryExpectation(payload: Uint8Array): Expectation {
  if (payload.length > LIMITS.hardFrameLimitBytes) return { close: CloseCode.MessageTooBig };
  const decoded = decodeClientBinary(payload);
  if (!decoded.ok) return { error: ErrorCode.InvalidFrame, ids: [decoded.id] };
  const { data, ...frame } = decoded.frame;
  if (data.length > LIMITS.maxFrameBytes) return { error: ErrorCode.TooLarge, ids: [frame.id] };
  return { valid: { ...frame, binary: true } };
}

/**
 * Pairs the replies to a burst with its frames: each reply goes to the first frame still
 * unanswered whose expected id it carries and whose judgement it passes. Returns the problems.
 */
function judgeBurst(expected: Expectation[], replies: Reply[], userId: string | null): string[] {
  const open = [...expected];
  const frames = expected.flatMap((e) => ('valid' in e ? [e.valid] : []));
  const problems: string[] = [];
  for (const reply of replies) {
    const candidates = open.filter((e) => ('valid' in e ? e.valid.id === reply.id : 'error' in e && e.ids.includes(reply.id as string | null)));
    const judge = (e: Expectation) => judgeReply(e, reply, userId, 'valid' in e ? frames.filter((f) => f !== e.valid) : []);
    const fits = candidates.find((e) => judge(e) === null);
    if (fits) open.splice(open.indexOf(fits), 1);
    else problems.push(candidates[0] ? judge(candidates[0])! : `reply that answers no frame of the burst: ${JSON.stringify(reply).slice(0, 200)}`);
  }
  return problems;
}

function judgeReply(expected: Expectation, reply: Reply, userId: string | null, concurrent: readonly unknown[] = []): string | null {
  if ('close' in expected) return `expected close ${expected.close}, got ${JSON.stringify(reply).slice(0, 200)}`;
  if (reply.type === 'error' && !ERROR_CODES.has(String(reply.code))) return `undocumented error code ${JSON.stringify(reply.code)}`;
  if ('error' in expected) {
    if (reply.type !== 'error' || reply.code !== expected.error) return `expected error ${expected.error}, got ${JSON.stringify(reply).slice(0, 200)}`;
    if (!expected.ids.includes(reply.id as string | null)) return `error id ${JSON.stringify(reply.id)}, expected one of ${JSON.stringify(expected.ids)}`;
    return null;
  }
  const frame = expected.valid;
  if (reply.id !== frame.id) return `reply id ${JSON.stringify(reply.id)} for frame id ${JSON.stringify(frame.id)}`;
  const op = (frame.binary === true ? BINARY_OPERATIONS : OPERATIONS).find((o) => o.type === frame.type);
  if (op) return op.check(frame, reply, { concurrent, limits: LIMITS, userId });
  // A frame type added to the protocol without an entry in OPERATIONS: at least not refused as invalid.
  return reply.type === 'error' && reply.code === ErrorCode.InvalidFrame ? `valid ${String(frame.type)} frame refused: ${String(reply.message)}` : null;
}

/** One fuzzed connection: a raw socket to the fuzzed app and how far its frames were read. */
class Lane {
  ws: RawWebSocket | null = null;
  read = 0;
  /** The session's user (from its welcome): user-limited topics depend on it. */
  userId: string | null = null;

  constructor(private readonly port: number, private readonly query: string) {}

  async ensureOpen(): Promise<RawWebSocket> {
    if (this.ws?.isOpen) return this.ws;
    this.ws?.destroy();
    const ws = await RawWebSocket.open(this.port, `/ws?${this.query}`);
    await ws.until(() => ws.texts.length > 0 || !ws.isOpen, ANSWER_TIMEOUT_MS, 'welcome');
    if (!ws.texts[0]?.includes('"welcome"')) throw new Error(`fuzz connection not welcomed: ${ws.texts[0] ?? `closed ${ws.closeCode}`}`);
    this.userId = (JSON.parse(ws.texts[0]) as { userId: string | null }).userId;
    this.ws = ws;
    this.read = 1;
    return ws;
  }

  /** Frames after `read` that answer a request, parsed; unparseable ones are reported. */
  replies(problems: string[]): Reply[] {
    const out: Reply[] = [];
    const texts = this.ws!.texts;
    for (let i = this.read; i < texts.length; i++) {
      let frame: Reply;
      try {
        frame = JSON.parse(texts[i]!) as Reply;
      } catch {
        problems.push(`server sent a frame that is not JSON: ${texts[i]!.slice(0, 200)}`);
        continue;
      }
      if (!UNSOLICITED.has(String(frame.type))) out.push(frame);
    }
    return out;
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { seed, cases } = options;
  const from = options.from ?? 0;
  const lanesWanted = options.connections ?? 4;
  const rssGrowthLimitMb = options.rssGrowthLimitMb ?? 128;
  await requireRedis();
  await requireRabbit();
  const prefix = uniquePrefix('fuzz');
  const amqpPrefix = uniqueAmqpPrefix('fuzz');
  const creds = await credentials();
  const failures: FuzzFailure[] = [];
  const runProblems: string[] = [];
  const outcomes: Record<string, number> = {};
  const count = (key: string) => (outcomes[key] = (outcomes[key] ?? 0) + 1);
  let gateway: GatewayProcess | null = null;
  let bridge: BridgeProcess | null = null;
  let worker: Worker | null = null;
  let canary: WsClient | null = null;
  const lanes: Lane[] = [];
  let reconnects = 0;
  const started = performance.now();
  try {
    const shared = { REDIS_URL, REDIS_KEY_PREFIX: prefix, AMQP_URL, AMQP_PREFIX: amqpPrefix, APPS: JSON.stringify([FUZZ_APP, CANARY_APP]) };
    // RPC end to end: jobs go to RabbitMQ, the worker answers, the bridge carries results back.
    worker = await createWorker({
      url: AMQP_URL,
      prefix: amqpPrefix,
      concurrency: 32,
      methods: {
        echo: (params) => params,
        fail: () => {
          throw new Error('fuzz worker: fail');
        },
      },
    });
    bridge = await spawnBridge(shared);
    gateway = await spawnGateway({
      ...shared,
      RPC_DEFAULT_TIMEOUT_MS: String(RPC_DEFAULT_TIMEOUT_MS),
      MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
      // Every frame is judged on its content, not dropped by the rate limit.
      RATE_LIMIT_FRAMES_PER_SEC: '1000000',
      RATE_LIMIT_BURST: '10000000',
      // Bounds what a `since` of 0-0 replays.
      HISTORY_SIZE: '100',
      LOG_LEVEL: 'warn',
    });
    const gw = gateway;
    const state = { exited: null as number | null };
    void gw.proc.exited.then((code) => (state.exited = code));
    const http = `http://127.0.0.1:${gw.port}`;

    canary = await WsClient.open(`ws://127.0.0.1:${gw.port}/ws?app=${CANARY_APP.id}`);
    const subscribed = await canary.request({ type: 'subscribe', topics: SHARED_TOPICS });
    if (subscribed.type !== 'ack') throw new Error(`canary subscribe refused: ${JSON.stringify(subscribed)}`);
    const log = new PublishLog();
    let fuzzing = true;
    let n = 0;
    const publisher = (async () => {
      while (fuzzing && state.exited === null) {
        await log.publish(http, CANARY_APP, 'canary', { n: n++ });
        // Paced, so that the canary's sequence spans the whole run rather than its start.
        await Bun.sleep(5);
      }
    })().catch((error: unknown) => runProblems.push(`canary publisher failed: ${String(error)}`));

    for (let i = 0; i < lanesWanted; i++) {
      const lane = new Lane(gw.port, i % 2 === 0 ? `app=${FUZZ_APP.id}` : `app=${FUZZ_APP.id}&token=${creds.token}`);
      await lane.ensureOpen();
      lanes.push(lane);
    }
    // The gateway is ready before its job publisher is: wait until a job goes through.
    await waitFor(
      async () => {
        const probe = await WsClient.open(`ws://127.0.0.1:${gw.port}/ws?app=${FUZZ_APP.id}`);
        try {
          return (await probe.request({ type: 'rpc', method: 'echo', params: 'ready' })).type === 'result';
        } finally {
          probe.close();
        }
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'a first job to come back' },
    );
    const rssBeforeMb = readRssMb(gw.proc.pid);
    let rssPeakMb = rssBeforeMb;
    const sampler = setInterval(() => {
      if (state.exited === null) rssPeakMb = Math.max(rssPeakMb, readRssMb(gw.proc.pid));
    }, 250);

    const fail = (c: FuzzCase, problem: string) => {
      if (failures.length < 50) failures.push({ index: c.index, kind: c.kind, sent: shown(c), problem });
    };

    const runConnectCase = async (c: FuzzCase & { send: 'connect' }) => {
      let ws: RawWebSocket;
      try {
        ws = await RawWebSocket.open(gw.port, `/ws?${c.query}`);
      } catch (error) {
        if (!(error instanceof UpgradeRefused)) throw error;
        count(`http ${error.status}`);
        let code: unknown;
        try {
          code = (JSON.parse(error.body) as { error?: { code?: unknown } }).error?.code;
        } catch {
          code = undefined;
        }
        if (c.expect === 'head_too_large') {
          if (error.status !== 431) fail(c, `upgrade answered HTTP ${error.status}, expected 431`);
        } else if (c.expect !== 'documented' || error.status < 400 || error.status >= 500 || !ERROR_CODES.has(String(code))) {
          fail(c, `upgrade answered HTTP ${error.status} ${error.body.slice(0, 200)}`);
        }
        return;
      }
      try {
        await ws.until(() => ws.texts.length > 0 || !ws.isOpen, ANSWER_TIMEOUT_MS, 'a first frame');
        const first = ws.texts[0] ? (JSON.parse(ws.texts[0]) as Reply) : null;
        if (first?.type === 'welcome') {
          count('welcome');
          if (c.expect !== 'welcome' && c.expect !== 'documented') fail(c, `welcomed, expected ${c.expect}`);
          ws.send(Opcode.Text, '{"type":"ping","id":"after-connect"}');
          await ws.until(() => ws.texts.some((t) => t.includes('after-connect')) || !ws.isOpen, ANSWER_TIMEOUT_MS, 'pong');
          if (!ws.isOpen) fail(c, `welcomed session closed with ${ws.closeCode}`);
          return;
        }
        await ws.until(() => !ws.isOpen, ANSWER_TIMEOUT_MS, 'the close after a refusal');
        const code = String(first?.code);
        count(`refused ${code} ${ws.closeCode}`);
        if (first?.type !== 'error' || first.id !== null || REFUSAL_CLOSE[code] !== ws.closeCode) {
          fail(c, `refused with ${JSON.stringify(first)} and close ${ws.closeCode}`);
        } else if (c.expect !== 'documented' && c.expect !== code) fail(c, `refused with ${code}, expected ${c.expect}`);
      } finally {
        ws.destroy();
      }
    };

    const runFrameCase = async (lane: Lane, c: FuzzCase & { send: 'text' | 'binary' }) => {
      const expected = expectationFor(c);
      const ws = await lane.ensureOpen();
      ws.send(c.send === 'binary' ? Opcode.Binary : Opcode.Text, c.payload);
      const problems: string[] = [];
      try {
        await ws.until(() => !ws.isOpen || lane.replies(problems).length > 0, ANSWER_TIMEOUT_MS, 'answer');
      } catch (error) {
        fail(c, String(error));
        lane.read = ws.texts.length;
        return;
      }
      const replies = lane.replies([]);
      lane.read = ws.texts.length;
      for (const problem of problems) fail(c, problem);
      if (replies.length === 0) {
        // Closed without a reply.
        count(`close ${ws.closeCode}`);
        reconnects += 1;
        const documentedForBadFrame = !('valid' in expected) && ws.closeCode === CloseCode.ProtocolViolation;
        if (!('close' in expected && expected.close === ws.closeCode) && !documentedForBadFrame) {
          fail(c, `connection closed with ${ws.closeCode} ${ws.closeReason}; expected ${JSON.stringify(expected).slice(0, 200)}`);
        }
        return;
      }
      const reply = replies[0]!;
      count(reply.type === 'error' ? `error ${String(reply.code)}` : String(reply.type));
      const problem = judgeReply(expected, reply, lane.userId);
      if (problem) fail(c, problem);
      if (replies.length > 1) fail(c, `${replies.length} replies: ${JSON.stringify(replies).slice(0, 300)}`);
    };

    const runHttpCase = async (c: FuzzCase & { send: 'http' }) => {
      let body: BodyInit | null = c.body ? Buffer.from(c.body) : null;
      if (c.body && c.chunked) {
        // A stream has no content-length: the body goes chunked, and the limit is counted as it arrives.
        const bytes = c.body;
        body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < bytes.length; at += 16 * 1024) controller.enqueue(bytes.subarray(at, at + 16 * 1024));
            controller.close();
          },
        });
      }
      const res = await fetch(`${http}${c.path}`, { method: c.method, headers: c.headers, body });
      const text = await res.text();
      count(`http ${res.status}`);
      let json: { offset?: unknown; error?: { code?: unknown } } | null;
      try {
        json = JSON.parse(text) as typeof json;
      } catch {
        json = null;
      }
      const code = json?.error?.code;
      if (!c.expect.some((e) => e.status === res.status && (e.code === undefined || e.code === code))) {
        return fail(c, `HTTP ${res.status} ${text.slice(0, 200)}; expected ${JSON.stringify(c.expect)}`);
      }
      if (res.status >= 400 && (typeof code !== 'string' || !ERROR_CODES.has(code))) fail(c, `error body without a documented code: ${text.slice(0, 200)}`);
      if (c.method === 'POST' && res.status === 200 && typeof json?.offset !== 'string') fail(c, `publish answered ${text.slice(0, 200)}`);
    };

    /** Requests in flight when the client vanishes: the gateway must let go of them without a trace. */
    const runAbandonCase = async (c: FuzzCase & { send: 'abandon' }) => {
      const ws = await RawWebSocket.open(gw.port, `/ws?app=${FUZZ_APP.id}`);
      for (const payload of c.payloads) ws.send(Opcode.Text, payload);
      ws.destroy();
      count('abandoned');
      await ws.ended;
    };

    const runBurstCase = async (lane: Lane, c: FuzzCase & { send: 'burst' }) => {
      const expected = c.payloads.map((payload) => expectationFor({ ...c, send: 'text', payload }));
      if (expected.some((e) => 'close' in e)) throw new Error('a burst holds only frames that are answered');
      const ws = await lane.ensureOpen();
      for (const payload of c.payloads) ws.send(Opcode.Text, payload);
      const problems: string[] = [];
      try {
        await ws.until(() => !ws.isOpen || lane.replies(problems).length >= c.payloads.length, ANSWER_TIMEOUT_MS, `${c.payloads.length} answers`);
      } catch (error) {
        fail(c, `${String(error)}; got ${JSON.stringify(lane.replies([])).slice(0, 300)}`);
        lane.read = ws.texts.length;
        return;
      }
      const replies = lane.replies([]);
      lane.read = ws.texts.length;
      for (const problem of problems) fail(c, problem);
      if (!ws.isOpen) fail(c, `connection closed with ${ws.closeCode} during a burst of answerable frames`);
      for (const reply of replies) count(reply.type === 'error' ? `error ${String(reply.code)}` : String(reply.type));
      for (const problem of judgeBurst(expected, replies, lane.userId)) fail(c, problem);
      if (replies.length > c.payloads.length) fail(c, `${replies.length} replies to ${c.payloads.length} frames`);
    };

    await Promise.all(
      lanes.map(async (lane, l) => {
        for (let index = from + l; index < from + cases; index += lanes.length) {
          if (state.exited !== null) return;
          const c = generateCase(Rng.forCase(seed, index), index, LIMITS, creds);
          try {
            if (c.send === 'connect') await runConnectCase(c);
            else if (c.send === 'http') await runHttpCase(c);
            else if (c.send === 'abandon') await runAbandonCase(c);
            else if (c.send === 'burst') await runBurstCase(lane, c);
            else await runFrameCase(lane, c);
          } catch (error) {
            fail(c, `runner: ${String(error)}`);
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;

    fuzzing = false;
    await publisher;
    if (state.exited !== null) {
      const stderr = await new Response(gw.proc.stderr).text();
      runProblems.push(`the gateway exited with ${state.exited}: ${[...gw.output.slice(-20), stderr.slice(-3000)].join('\n')}`);
    }
    // The canary's sequence: all of it, once, in order, and nothing of the fuzzed app.
    const expected = log.expected('canary');
    const received = (): Published[] => canary!.messages('canary').map((m) => ({ offset: String(m.offset), data: m.data }));
    await waitFor(() => received().length >= expected.length || state.exited !== null, { timeoutMs: 10_000, what: 'the canary to catch up' }).catch(() => {});
    await canary.request({ type: 'ping' }).catch(() => {});
    const problems = sequenceProblems(received(), expected);
    if (problems.length > 0) runProblems.push(`canary: ${problems.join('; ')}`);
    const leaked = canary.frames.filter((f) => f.type === 'message' && f.topic !== 'canary');
    if (leaked.length > 0) runProblems.push(`canary received ${leaked.length} messages it was never sent (cross-app leak): ${JSON.stringify(leaked.slice(0, 3))}`);
    const canaryErrors = canary.frames.filter((f) => f.type === 'error');
    if (canaryErrors.length > 0) runProblems.push(`canary got error frames: ${JSON.stringify(canaryErrors.slice(0, 3))}`);

    clearInterval(sampler);
    const rssAfterMb = state.exited === null ? readRssMb(gw.proc.pid) : Number.NaN;
    if (!(rssAfterMb - rssBeforeMb <= rssGrowthLimitMb)) runProblems.push(`RSS grew from ${rssBeforeMb} MB to ${rssAfterMb} MB (limit +${rssGrowthLimitMb} MB)`);
    const ready = await fetch(`${http}/readyz`).then((r) => r.status, () => 0);
    if (ready !== 200) runProblems.push(`/readyz answers ${ready} after the run`);
    const gatewayErrors = gw.output.filter((line) => /"level":"(error|fatal)"/.test(line)).slice(0, 20);

    return { seed, cases, seconds, failures, runProblems, rssBeforeMb, rssAfterMb, rssPeakMb, canaryMessages: expected.length, reconnects, outcomes, gatewayErrors };
  } finally {
    for (const lane of lanes) lane.ws?.destroy();
    canary?.close();
    await gateway?.stop('SIGKILL');
    await bridge?.stop('SIGKILL');
    await worker?.stop();
    const broker = await TestBroker.open(amqpPrefix);
    await broker.cleanup(['echo', 'fail']);
    const admin = testClient();
    try {
      await deleteKeysUnder(admin, prefix);
    } finally {
      admin.disconnect();
    }
  }
}

/** The report as a few lines, with what it takes to run the same cases again. */
export function describeReport(report: FuzzReport): string {
  const lines = [
    `fuzz: seed ${report.seed}, ${report.cases} cases in ${report.seconds.toFixed(1)} s; RSS ${report.rssBeforeMb} -> ${report.rssAfterMb} MB (peak ${report.rssPeakMb}); canary ${report.canaryMessages} messages; ${report.reconnects} reconnects`,
    `outcomes: ${JSON.stringify(report.outcomes)}`,
    ...report.runProblems.map((p) => `RUN: ${p}`),
    ...report.failures.map((f) => `CASE ${f.index} [${f.kind}] ${f.problem}\n  sent: ${JSON.stringify(f.sent)}`),
    ...report.gatewayErrors.map((l) => `GATEWAY: ${l}`),
  ];
  if (report.failures.length > 0 || report.runProblems.length > 0) lines.push(`reproduce: FUZZ_SEED=${report.seed} FUZZ_CASES=${report.cases} bun run fuzz`);
  return lines.join('\n');
}
