/**
 * The Hono app: HTTP routes and the WebSocket upgrade. Request handling only; state lives in
 * the Gateway behind the GatewayPort interface, so the app can be tested with app.request().
 */
import { Hono } from 'hono';
import type { WSContext, WSEvents } from 'hono/ws';
import { HTTPException } from 'hono/http-exception';
import * as v from 'valibot';
import type { InstanceInfo } from '../cluster/registry.ts';
import type { TopicPublisher } from '../cluster/topicPublisher.ts';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { PublishRequestSchema, type PublishResponse } from '../protocol/api.ts';
import { IdempotencyKeySchema, TopicSchema, UserIdSchema } from '../protocol/names.ts';
import type { TopicPresence } from '../protocol/frames.ts';
import { DirectMessageRequestSchema, type DirectMessageResponse, type UserPresenceResponse } from '../protocol/api.ts';
import type { UserInbox } from '../cluster/userInbox.ts';
import type { UserRegistry } from '../cluster/users.ts';
import type { AppConfig } from '../config.ts';
import type { Logger } from '../lib/log.ts';
import type { AppQuotas } from './appQuotas.ts';
import type { Admission, Apps } from './auth.ts';
import { isOctetStream, readBodyBytes, readJsonBody } from './body.ts';
import { upgradeWebSocket, type DirectFrames } from './bun.ts';
import { mountDemo } from './demoPage.ts';
import { mountDashboard, type DashboardPort } from './dashboard.ts';
import { encodeError } from './frames.ts';
import { httpError, type ErrorBody } from './httpErrors.ts';
import { tracksPresence, type PresenceTracker } from './presenceTracker.ts';
import type { Session } from './session.ts';
import type { Placement } from './placement.ts';
import type { Socket } from './socket.ts';
import { describeIssue } from '../protocol/issues.ts';

/** What the HTTP layer needs from the running gateway. */
export interface GatewayPort extends DashboardPort {
  readonly instanceId: string;
  readonly apps: Apps;
  readonly publisher: TopicPublisher;
  /** Direct messages from the server API, and user status. */
  readonly userInbox: Pick<UserInbox, 'send'>;
  readonly userRegistry: Pick<UserRegistry, 'count'>;
  readonly presence: Pick<PresenceTracker, 'members'>;
  readonly maxFrameBytes: number;
  readonly log: Logger;
  isReady(): boolean;
  liveInstances(): Promise<InstanceInfo[]>;
  /** Reasons the instance is not ready (empty when ready). */
  readiness(): string[];
  /** Hash routing's room placement; null unless ROUTING=hash. */
  readonly placement: Placement | null;
  openSession(socket: Socket, admission: Extract<Admission, { ok: true }>, resume?: string, room?: string): Session;
  /** The connection closed with `code` (counted by code in the metrics). */
  closeSession(session: Session, code?: number): void;
  // ---- security (docs/security.md) ----
  readonly quotas: AppQuotas;
  /** Whether a session of the app may open on this instance (its maxConnections). */
  hasRoomFor(app: AppConfig): boolean;
  /** What is wrong without making the instance unready (shown by /readyz). */
  warnings(): string[];
  /** The metrics, in the Prometheus text format (GET /metrics). */
  readonly metrics: { render(): Promise<string>; readonly contentType: string };
  // ---- the demo page's client SDK bundle ----
  /** No APPS configured: the demo app is served, and the demo page may mint its tokens (gateway/demoPage.ts). */
  readonly demoMode: boolean;
}

/**
 * The WebSocket events of one connection. A class, built outside the request handler on
 * purpose: handlers on the prototype and no closure over the request keep an idle
 * connection to a few small objects (see docs/benchmarks.md, idle sessions).
 */
class SessionEvents implements WSEvents, DirectFrames {
  private session: Session | null = null;

  constructor(
    private readonly port: GatewayPort,
    /** What the upgrade request asked for: needed only by onOpen, which drops it (fewer fields per open connection). */
    private request: { admission: Admission; resume: string | undefined; room: string | undefined } | null,
  ) {}

  onOpen(_event: Event, ws: WSContext): void {
    const socket = ws.raw as Socket;
    const { admission, resume, room } = this.request!;
    this.request = null;
    if (!admission.ok) {
      socket.send(encodeError(null, admission.code, admission.message));
      socket.close(admission.closeCode, admission.message);
      return;
    }
    if (!this.port.isReady()) {
      socket.send(encodeError(null, ErrorCode.Unavailable, 'instance not ready; connect to another'));
      socket.close(CloseCode.NotReady, 'not ready');
      return;
    }
    // Checked here, in the same turn as openSession(), so that concurrent upgrades cannot pass it together.
    if (!this.port.hasRoomFor(admission.app)) {
      const message = `app ${admission.app.id} has its ${admission.app.maxConnections} sessions on this instance; reconnect later or elsewhere`;
      socket.send(encodeError(null, ErrorCode.LimitExceeded, message));
      socket.close(CloseCode.TooManyConnections, 'too many connections');
      return;
    }
    this.session = this.port.openSession(socket, admission, resume, room);
  }

  /** Frames from the runtime directly (see gateway/bun.ts). */
  onFrame(data: string | Uint8Array): void {
    this.receive(data);
  }

  onMessage(event: MessageEvent): void {
    this.receive(event.data as string | ArrayBuffer);
  }

  /**
   * A bug in a frame handler must cost that frame, not the instance and every other session
   * on it: the error is logged and the client gets `internal` (no request id: the frame may
   * not have parsed), and the session goes on.
   */
  private receive(data: string | ArrayBuffer | Uint8Array): void {
    const session = this.session;
    if (!session) return;
    try {
      session.receive(data);
    } catch (error) {
      this.port.log.error('frame handler failed', { session: session.id, error });
      session.send(encodeError(null, ErrorCode.Internal, 'the server failed on this frame; it was dropped'));
    }
  }

  onClose(event?: CloseEvent): void {
    if (this.session) this.port.closeSession(this.session, event?.code);
  }
}

export function createApp(port: GatewayPort): Hono {
  const app = new Hono();

  mountDemo(app, port);

  app.get('/healthz', (c) => c.json({ status: 'ok', instanceId: port.instanceId }));

  app.get('/readyz', (c) => {
    const reasons = port.readiness();
    const warnings = port.warnings();
    const extra = warnings.length > 0 ? { warnings } : {};
    return reasons.length === 0 ? c.json({ ready: true, ...extra }) : c.json({ ready: false, reasons, ...extra }, 503);
  });

  app.get('/api/instances', async (c) => {
    if (!port.apps.checkOperator(c.req.header('authorization'))) {
      throw httpError(401, ErrorCode.Unauthorized, 'Authorization: Bearer <an app API key or OPERATOR_TOKEN> required');
    }
    return c.json({ instances: await port.liveInstances() });
  });

  // Prometheus scrape target (README, "Metrics"). Open like /healthz: it names no topic, user or session.
  app.get('/metrics', async () => new Response(await port.metrics.render(), { headers: { 'content-type': port.metrics.contentType } }));

  mountDashboard(app, port);

  app.post('/api/apps/:app/publish', async (c) => {
    const target = port.apps.get(c.req.param('app'));
    if (!target) throw httpError(404, ErrorCode.UnknownApp, `unknown app ${JSON.stringify(c.req.param('app'))}`);
    if (!port.apps.checkBearer(target, c.req.header('authorization'))) {
      throw httpError(401, ErrorCode.Unauthorized, 'Authorization: Bearer <app API key> required');
    }
    if (!port.isReady()) throw httpError(503, ErrorCode.Unavailable, 'instance not ready');
    // Before the body is read: a refused publish costs no parsing.
    if (!port.quotas.tryPublish(target)) {
      throw httpError(429, ErrorCode.RateLimited, `app ${target.id} is over its ${target.maxPublishPerSec} publishes/s on this instance; not published`);
    }
    if (isOctetStream(c.req.raw)) return c.json({ offset: await publishBytes(target, c.req.query('topic'), c.req.raw) } satisfies PublishResponse);
    const parsed = v.safeParse(PublishRequestSchema, await readJsonBody(c.req.raw, port.maxFrameBytes));
    if (!parsed.success) {
      throw httpError(400, ErrorCode.InvalidRequest, describeIssue(parsed.issues[0]));
    }
    const offset = await port.publisher.publish(target.id, parsed.output.topic, parsed.output.data);
    return c.json({ offset } satisfies PublishResponse);
  });

  // Topic presence (docs/users.md, "Presence"): authenticated like publish.
  app.get('/api/apps/:app/topics/:topic/presence', async (c) => {
    const target = port.apps.get(c.req.param('app'));
    if (!target) throw httpError(404, ErrorCode.UnknownApp, `unknown app ${JSON.stringify(c.req.param('app'))}`);
    if (!port.apps.checkBearer(target, c.req.header('authorization'))) {
      throw httpError(401, ErrorCode.Unauthorized, 'Authorization: Bearer <app API key> required');
    }
    if (!port.isReady()) throw httpError(503, ErrorCode.Unavailable, 'instance not ready');
    const topic = v.safeParse(TopicSchema, c.req.param('topic'));
    if (!topic.success) throw httpError(400, ErrorCode.InvalidRequest, describeIssue(topic.issues[0]));
    if (!tracksPresence(target, topic.output)) {
      throw httpError(400, ErrorCode.NoPresence, `topic ${topic.output} does not track presence (see presenceTopics of app ${target.id})`);
    }
    return c.json((await port.presence.members(target.id, topic.output)) satisfies TopicPresence);
  });

  // ---- users (docs/users.md) ----

  /** The app of a server API request, after the Bearer check; and the user of the path, checked. */
  const serverUser = (appId: string, header: string | undefined, user: string): { target: AppConfig; user: string } => {
    const target = port.apps.get(appId);
    if (!target) throw httpError(404, ErrorCode.UnknownApp, `unknown app ${JSON.stringify(appId)}`);
    if (!port.apps.checkBearer(target, header)) throw httpError(401, ErrorCode.Unauthorized, 'Authorization: Bearer <app secret> required');
    const parsed = v.safeParse(UserIdSchema, user);
    if (!parsed.success) throw httpError(400, ErrorCode.InvalidRequest, describeIssue(parsed.issues[0]));
    if (!port.isReady()) throw httpError(503, ErrorCode.Unavailable, 'instance not ready');
    return { target, user: parsed.output };
  };

  app.post('/api/apps/:app/users/:user/messages', async (c) => {
    const { target, user } = serverUser(c.req.param('app'), c.req.header('authorization'), c.req.param('user'));
    if (isOctetStream(c.req.raw)) return c.json({ messageId: await sendBytes(target, user, c.req.query('id'), c.req.raw) } satisfies DirectMessageResponse);
    const parsed = v.safeParse(DirectMessageRequestSchema, await readJsonBody(c.req.raw, port.maxFrameBytes));
    if (!parsed.success) throw httpError(400, ErrorCode.InvalidRequest, describeIssue(parsed.issues[0]));
    const { data, id } = parsed.output;
    const sent = await port.userInbox.send(target.id, user, { from: null, data: JSON.stringify(data), ...(id !== undefined ? { key: id } : {}) });
    return c.json({ messageId: sent.messageId } satisfies DirectMessageResponse);
  });

  app.get('/api/apps/:app/users/:user/presence', async (c) => {
    const { target, user } = serverUser(c.req.param('app'), c.req.header('authorization'), c.req.param('user'));
    const sessions = (await port.userRegistry.count(target.id, [user])).get(user) ?? 0;
    return c.json({ online: sessions > 0, sessions } satisfies UserPresenceResponse);
  });

  // ---- binary messages: application/octet-stream bodies ----

  /** `POST …/publish?topic=<topic>` with raw bytes: a binary message (docs/protocol.md, "Binary frames"). */
  const publishBytes = async (target: AppConfig, topicParam: string | undefined, request: Request): Promise<string> => {
    if (topicParam === undefined) throw httpError(400, ErrorCode.InvalidRequest, 'topic: required as a query parameter (?topic=…) with an application/octet-stream body');
    const topic = v.safeParse(TopicSchema, topicParam);
    if (!topic.success) throw httpError(400, ErrorCode.InvalidRequest, describeIssue(topic.issues[0]));
    const bytes = await readBodyBytes(request, port.maxFrameBytes);
    return port.publisher.publishPayload(target.id, topic.output, bytes);
  };

  /** `POST …/users/:user/messages[?id=<key>]` with raw bytes: a direct message whose data is bytes. */
  const sendBytes = async (target: AppConfig, user: string, idParam: string | undefined, request: Request): Promise<string> => {
    const key = idParam === undefined ? undefined : v.safeParse(IdempotencyKeySchema, idParam);
    if (key && !key.success) throw httpError(400, ErrorCode.InvalidRequest, `id: ${describeIssue(key.issues[0])}`);
    const bytes = await readBodyBytes(request, port.maxFrameBytes);
    const sent = await port.userInbox.send(target.id, user, { from: null, data: bytes, ...(key ? { key: key.output } : {}) });
    return sent.messageId;
  };
  // ---- end binary messages ----

  app.get('/ws', async (c, next) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw httpError(426, ErrorCode.InvalidRequest, 'WebSocket upgrade required');
    }
    // Browsers always send Origin; other clients may not, and are not refused for it.
    const target = port.apps.get(c.req.query('app'));
    const origin = c.req.header('origin');
    if (target?.allowedOrigins && origin !== undefined && !target.allowedOrigins.includes(origin)) {
      throw httpError(403, ErrorCode.Forbidden, `origin ${JSON.stringify(origin.slice(0, 200))} may not open sessions of app ${target.id}`);
    }
    const room = c.req.query('room');
    if (room !== undefined && !v.is(TopicSchema, room)) throw httpError(400, ErrorCode.InvalidRequest, 'room: 1-200 of the characters a topic may have');
    const home = room === undefined ? null : port.placement?.misdirected(room);
    if (home) {
      // Before the WebSocket opens: Fly's proxy replays the upgrade to the home machine; off
      // Fly, the header and the body name the home's URL for the client or another proxy.
      const body = { error: { code: ErrorCode.Misdirected, message: `room ${JSON.stringify(room)} lives on instance ${home.instanceId}` }, home };
      return c.json(body, 421, { 'fly-replay': `instance=${home.instanceId}`, 'x-switchyard-home': home.url });
    }
    await next();
  });

  app.get(
    '/ws',
    upgradeWebSocket(async (c) => {
      const admission = await port.apps.admit(c.req.query('app'), c.req.query('token'));
      return new SessionEvents(port, { admission, resume: c.req.query('resume'), room: c.req.query('room') });
    }),
  );

  app.notFound(() => Response.json({ error: { code: ErrorCode.NotFound, message: 'no such route' } } satisfies ErrorBody, { status: 404 }));

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    port.log.error('request failed', { path: c.req.path, error });
    return c.json({ error: { code: ErrorCode.Internal, message: 'internal error' } } satisfies ErrorBody, 500);
  });

  return app;
}
