/**
 * Who is connecting: the app from the URL, the user from an HS256 JWT signed with the app's
 * secret (`sub` = user ID). Also the Bearer check of the server API.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { verify } from 'hono/jwt';
import type { AppConfig } from '../config.ts';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';

export type Admission =
  | { ok: true; app: AppConfig; userId: string | null }
  | { ok: false; code: ErrorCode; closeCode: CloseCode; message: string };

export class Tenants {
  private readonly byId: Map<string, AppConfig>;

  constructor(apps: readonly AppConfig[]) {
    this.byId = new Map(apps.map((a) => [a.id, a]));
  }

  get(id: string | undefined): AppConfig | undefined {
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Decides whether a WebSocket connection may open, and as whom. */
  async admit(appId: string | undefined, token: string | undefined): Promise<Admission> {
    const app = this.get(appId);
    if (!app) {
      return { ok: false, code: ErrorCode.UnknownApp, closeCode: CloseCode.UnknownApp, message: `unknown app ${JSON.stringify(appId ?? '')}` };
    }
    if (token === undefined || token === '') {
      if (app.allowAnonymous) return { ok: true, app, userId: null };
      return { ok: false, code: ErrorCode.Unauthorized, closeCode: CloseCode.Unauthorized, message: 'token required' };
    }
    try {
      const claims = await verify(token, app.secret, 'HS256');
      const sub = claims.sub;
      if (sub !== undefined && (typeof sub !== 'string' || sub.length === 0 || sub.length > 256)) {
        return { ok: false, code: ErrorCode.Unauthorized, closeCode: CloseCode.Unauthorized, message: 'token sub must be a non-empty string' };
      }
      if (sub === undefined && !app.allowAnonymous) {
        return { ok: false, code: ErrorCode.Unauthorized, closeCode: CloseCode.Unauthorized, message: 'token has no sub' };
      }
      return { ok: true, app, userId: sub ?? null };
    } catch (error) {
      const reason = error instanceof Error && error.name === 'JwtTokenExpired' ? 'token expired' : 'invalid token';
      return { ok: false, code: ErrorCode.Unauthorized, closeCode: CloseCode.Unauthorized, message: reason };
    }
  }

  /**
   * A token that lets the same user of the same app take this session over after a
   * reconnect: `<sessionId>:<HMAC-SHA256(app secret, app|user|session)>`.
   */
  resumeToken(app: AppConfig, userId: string | null, sessionId: string): string {
    return `${sessionId}:${this.resumeMac(app, userId, sessionId)}`;
  }

  /** The session a resume token names, when it is valid for this app and user. */
  verifyResume(app: AppConfig, userId: string | null, token: string): string | null {
    const sep = token.lastIndexOf(':');
    if (sep <= 0) return null;
    const sessionId = token.slice(0, sep);
    const given = Buffer.from(token.slice(sep + 1));
    const expected = Buffer.from(this.resumeMac(app, userId, sessionId));
    return given.length === expected.length && timingSafeEqual(given, expected) ? sessionId : null;
  }

  private resumeMac(app: AppConfig, userId: string | null, sessionId: string): string {
    return createHmac('sha256', app.secret).update(`${app.id}|${userId ?? ''}|${sessionId}`).digest('base64url');
  }

  /** Constant-time check of `Authorization: Bearer <secret>` for the server API. */
  checkBearer(app: AppConfig, header: string | undefined): boolean {
    if (!header?.startsWith('Bearer ')) return false;
    const given = createHash('sha256').update(header.slice(7)).digest();
    const expected = createHash('sha256').update(app.secret).digest();
    return timingSafeEqual(given, expected);
  }
}
