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
import type { Logger } from '../lib/log.ts';
import type { Admission, Apps } from './auth.ts';
import { readJsonBody } from './body.ts';
import { upgradeWebSocket, type DirectFrames } from './bun.ts';
import { DEMO_PAGE } from './demoPage.ts';
import { mountDashboard, type DashboardPort } from './dashboard.ts';
import { encodeError } from './frames.ts';
import { httpError, type ErrorBody } from './httpErrors.ts';
import type { Session } from './session.ts';
import type { Socket } from './socket.ts';
import { describeIssue } from '../protocol/issues.ts';

/** What the HTTP layer needs from the running gateway. */
export interface GatewayPort extends DashboardPort {
  readonly instanceId: string;
  readonly apps: Apps;
  readonly publisher: TopicPublisher;
  readonly maxFrameBytes: number;
  readonly log: Logger;
  isReady(): boolean;
  liveInstances(): Promise<InstanceInfo[]>;
  /** Reasons the instance is not ready (empty when ready). */
  readiness(): string[];
  /** What is wrong without making the instance unready (shown by /readyz). */
  warnings(): string[];
  openSession(socket: Socket, admission: Extract<Admission, { ok: true }>, resume?: string): Session;
  /** The connection closed with `code` (counted by code in the metrics). */
  closeSession(session: Session, code?: number): void;
  /** The metrics, in the Prometheus text format (GET /metrics). */
  readonly metrics: { render(): Promise<string>; readonly contentType: string };
}

/**
 * The WebSocket events of one connection. A class, built outside the request handler on
 * purpose: handlers on the prototype and no closure over the request keep an idle
 * connection to a few small objects (see docs/benchmarks.md, idle sessions).
 */
class SessionEvents implements WSEvents, DirectFrames {
  private session: Session | null = null;

  constructor(private readonly port: GatewayPort, private admission: Admission | null, private resume: string | undefined) {}

  onOpen(_event: Event, ws: WSContext): void {
    const socket = ws.raw as Socket;
    // Needed only here: dropped so that an open connection does not keep them.
    const admission = this.admission!;
    const resume = this.resume;
    this.admission = null;
    this.resume = undefined;
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
    this.session = this.port.openSession(socket, admission, resume);
  }

  /** Frames from the runtime directly (see gateway/bun.ts). */
  onFrame(data: string | Uint8Array): void {
    this.session?.receive(data);
  }

  /** The socket drained (see gateway/bun.ts): a paced replay goes on. */
  onDrain(): void {
    this.session?.drained();
  }

  onMessage(event: MessageEvent): void {
    this.session?.receive(event.data as string | ArrayBuffer);
  }

  onClose(event?: CloseEvent): void {
    if (this.session) this.port.closeSession(this.session, event?.code);
  }
}

export function createApp(port: GatewayPort): Hono {
  const app = new Hono();

  app.get('/', (c) => c.html(DEMO_PAGE));

  app.get('/healthz', (c) => c.json({ status: 'ok', instanceId: port.instanceId }));

  app.get('/readyz', (c) => {
    const reasons = port.readiness();
    const warnings = port.warnings();
    const extra = warnings.length > 0 ? { warnings } : {};
    return reasons.length === 0 ? c.json({ ready: true, ...extra }) : c.json({ ready: false, reasons, ...extra }, 503);
  });

  app.get('/api/instances', async (c) => c.json({ instances: await port.liveInstances() }));

  // Prometheus scrape target (README, "Metrics"). Open like /healthz: it names no topic, user or session.
  app.get('/metrics', async () => new Response(await port.metrics.render(), { headers: { 'content-type': port.metrics.contentType } }));

  mountDashboard(app, port);

  app.post('/api/apps/:app/publish', async (c) => {
    const target = port.apps.get(c.req.param('app'));
    if (!target) throw httpError(404, ErrorCode.UnknownApp, `unknown app ${JSON.stringify(c.req.param('app'))}`);
    if (!port.apps.checkBearer(target, c.req.header('authorization'))) {
      throw httpError(401, ErrorCode.Unauthorized, 'Authorization: Bearer <app secret> required');
    }
    if (!port.isReady()) throw httpError(503, ErrorCode.Unavailable, 'instance not ready');
    const parsed = v.safeParse(PublishRequestSchema, await readJsonBody(c.req.raw, port.maxFrameBytes));
    if (!parsed.success) {
      throw httpError(400, ErrorCode.InvalidRequest, describeIssue(parsed.issues[0]));
    }
    const offset = await port.publisher.publish(target.id, parsed.output.topic, parsed.output.data);
    return c.json({ offset } satisfies PublishResponse);
  });

  app.get('/ws', async (c, next) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw httpError(426, ErrorCode.InvalidRequest, 'WebSocket upgrade required');
    }
    await next();
  });

  app.get(
    '/ws',
    upgradeWebSocket(async (c) => {
      const admission = await port.apps.admit(c.req.query('app'), c.req.query('token'));
      return new SessionEvents(port, admission, c.req.query('resume'));
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
