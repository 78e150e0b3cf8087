/**
 * Who is connecting: the app from the URL, the user from an HS256 JWT signed with the app's
 * secret (`sub` = user ID). Also the resume tokens of sessions and the Bearer check of the
 * server API.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { sign, verify } from 'hono/jwt';
import type { AppConfig } from '../config.ts';
import * as v from 'valibot';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { UserIdSchema } from '../protocol/names.ts';

/**
 * Seconds a token's `iat`, `nbf` and `exp` may be off, for clocks that differ between the
 * service that signs tokens and the instances: a token issued "2 s from now" by a server whose
 * clock runs ahead is accepted. Small, so that an expired token stays expired.
 */
export const CLOCK_SKEW_SEC = 5;

/** A verified token's claims. */
type JWTPayload = Awaited<ReturnType<typeof verify>>;

export type Admission =
  | { ok: true; app: AppConfig; userId: string | null }
  | { ok: false; code: ErrorCode; closeCode: CloseCode; message: string };

export class Apps {
  private readonly byId: Map<string, AppConfig>;

  constructor(apps: readonly AppConfig[]) {
    this.byId = new Map(apps.map((a) => [a.id, a]));
  }

  get(id: string | undefined): AppConfig | undefined {
    return id === undefined ? undefined : this.byId.get(id);
  }

  /**
   * Decides whether a WebSocket connection may open, and as whom. `nowSec` is the clock the
   * token's times are compared with (a parameter so tests can stand on the edges).
   */
  async admit(appId: string | undefined, token: string | undefined, nowSec = Math.floor(Date.now() / 1000)): Promise<Admission> {
    const app = this.get(appId);
    if (!app) {
      return { ok: false, code: ErrorCode.UnknownApp, closeCode: CloseCode.UnknownApp, message: `unknown app ${JSON.stringify(appId ?? '')}` };
    }
    const refuse = (message: string): Admission => ({ ok: false, code: ErrorCode.Unauthorized, closeCode: CloseCode.Unauthorized, message });
    if (token === undefined || token === '') {
      if (app.allowAnonymous) return { ok: true, app, userId: null };
      return refuse('token required');
    }
    let claims: JWTPayload;
    try {
      // The signature and the algorithm here; the times below, with CLOCK_SKEW_SEC.
      claims = await verify(token, app.secret, { alg: 'HS256', exp: false, nbf: false, iat: false });
    } catch {
      return refuse('invalid token');
    }
    const timeProblem = checkTimes(claims, nowSec);
    if (timeProblem) return refuse(timeProblem);
    const sub = claims.sub;
    // The user ID shape (protocol/names.ts): it names the user's Redis keys and is the `to` of direct messages.
    if (sub !== undefined && !v.is(UserIdSchema, sub)) {
      return refuse('token sub must be a user id: 1-128 of A-Z a-z 0-9 _ - . @ : = + |');
    }
    if (sub === undefined && !app.allowAnonymous) return refuse('token has no sub');
    return { ok: true, app, userId: sub ?? null };
  }

  /**
   * A token that lets the same user of the same app take this session over after a
   * reconnect, until `expiresAtMs`: `<sessionId>:<expiresAtMs in base 36>:<MAC>`, the MAC an
   * HMAC-SHA256 with the app's secret over app, user, session and expiry, so that none of
   * them can be changed.
   */
  resumeToken(app: AppConfig, userId: string | null, sessionId: string, expiresAtMs: number): string {
    const expiry = Math.floor(expiresAtMs).toString(36);
    return `${sessionId}:${expiry}:${this.resumeMac(app, userId, sessionId, expiry)}`;
  }

  /**
   * The session a resume token names, when it was issued for this app and user and has not
   * expired at `nowMs`; otherwise null. No clock skew here: the instances that issue and
   * check resume tokens share one clock discipline (the registry's heartbeat ages need it too).
   */
  verifyResume(app: AppConfig, userId: string | null, token: string, nowMs = Date.now()): string | null {
    const parts = token.split(':');
    if (parts.length !== 3) return null;
    const [sessionId, expiry, mac] = parts as [string, string, string];
    if (sessionId === '' || !/^[0-9a-z]{1,12}$/.test(expiry)) return null;
    const given = Buffer.from(mac);
    const expected = Buffer.from(this.resumeMac(app, userId, sessionId, expiry));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return nowMs < parseInt(expiry, 36) ? sessionId : null;
  }

  private resumeMac(app: AppConfig, userId: string | null, sessionId: string, expiry: string): string {
    // Only the user ID may contain "|": app IDs, session IDs and the expiry cannot, so the
    // fields cannot be shifted into one another.
    return createHmac('sha256', app.secret).update(`${app.id}|${userId ?? ''}|${sessionId}|${expiry}`).digest('base64url');
  }

  /** Constant-time check of `Authorization: Bearer <secret>` for the server API. */
  checkBearer(app: AppConfig, header: string | undefined): boolean {
    if (!header?.startsWith('Bearer ')) return false;
    const given = createHash('sha256').update(header.slice(7)).digest();
    const expected = createHash('sha256').update(app.secret).digest();
    return timingSafeEqual(given, expected);
  }
}

/**
 * A client token for `sub` of `app`, valid for `ttlSec`: what the app's backend hands its
 * users, signed with the library that verifies it in admit(). Used by `bun run token`.
 */
export function signClientToken(app: AppConfig, sub: string, ttlSec: number, nowSec = Math.floor(Date.now() / 1000)): Promise<string> {
  return sign({ sub, iat: nowSec, exp: nowSec + ttlSec }, app.secret, 'HS256');
}

/** Why a token's `exp`, `nbf` or `iat` refuses it at `nowSec`, allowing CLOCK_SKEW_SEC; null when none does. */
function checkTimes(claims: JWTPayload, nowSec: number): string | null {
  const time = (name: 'exp' | 'nbf' | 'iat'): number | null | undefined => {
    const value: unknown = claims[name];
    if (value === undefined) return undefined;
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const exp = time('exp');
  const nbf = time('nbf');
  const iat = time('iat');
  if (exp === null || nbf === null || iat === null) return 'token exp, nbf and iat must be numbers (seconds since 1970)';
  if (exp !== undefined && exp + CLOCK_SKEW_SEC <= nowSec) return 'token expired';
  if (nbf !== undefined && nbf - CLOCK_SKEW_SEC > nowSec) return 'token not valid yet (nbf)';
  if (iat !== undefined && iat - CLOCK_SKEW_SEC > nowSec) return 'token issued in the future (iat)';
  return null;
}
