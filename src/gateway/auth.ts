/**
 * Who is connecting and what they may do: the app from the URL, the user from a client token
 * (a JWT verified with `jose`: HS256 with one of the app's `secrets`, or RS256, ES256 or EdDSA
 * with one of its `publicKeys`; `sub` = user ID), and the token's grant (topic permissions,
 * expiry: see permissions.ts). Also the resume tokens of sessions, and the Bearer checks of
 * the server API (the app's `apiKeys`) and of operator endpoints (OPERATOR_TOKEN).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, errors, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { AppConfig } from '../config.ts';
import * as v from 'valibot';
import { CloseCode, ErrorCode } from '../protocol/codes.ts';
import { describePublicKey } from '../lib/publicKeys.ts';
import { grantOf, OPEN_GRANT, type Grant } from './permissions.ts';
import { UserIdSchema } from '../protocol/names.ts';

/**
 * Seconds a token's `iat`, `nbf` and `exp` may be off, for clocks that differ between the
 * service that signs tokens and the instances: a token issued "2 s from now" by a server whose
 * clock runs ahead is accepted. Small, so that an expired token stays expired.
 */
export const CLOCK_SKEW_SEC = 5;

export type Admission =
  | { ok: true; app: AppConfig; userId: string | null; grant: Grant }
  | { ok: false; code: ErrorCode; closeCode: CloseCode; message: string };

/** A verified client token: its user and grant, or why it is refused. */
export type Verified = { ok: true; userId: string | null; grant: Grant } | { ok: false; message: string };

type VerifyKey = CryptoKey | Uint8Array;

/** An app's keys, with the shorthands of AppSchema resolved. */
interface AppKeys {
  /** HS256 secrets of client tokens (`secrets`, or `[secret]`). */
  secrets: readonly string[];
  /** SHA-256 digests of the server API's Bearer tokens (`apiKeys`, or `[secret]` without them). */
  apiKeyDigests: readonly Buffer[];
  /** What MACs resume tokens: the first signs, each verifies (the secrets, else the API keys). */
  resumeKeys: readonly string[];
  /** Client-token keys by JWS algorithm, imported once, on first use. */
  verifying: Promise<Map<string, VerifyKey[]>> | null;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

function keysOf(app: AppConfig): AppKeys {
  const secrets = app.secrets ?? (app.secret !== undefined ? [app.secret] : []);
  const apiKeys = app.apiKeys ?? (app.secret !== undefined ? [app.secret] : []);
  return { secrets, apiKeyDigests: apiKeys.map(sha256), resumeKeys: secrets.length > 0 ? secrets : apiKeys, verifying: null };
}

async function importVerifyKeys(app: AppConfig, keys: AppKeys): Promise<Map<string, VerifyKey[]>> {
  const byAlg = new Map<string, VerifyKey[]>();
  const add = (alg: string, key: VerifyKey) => byAlg.set(alg, [...(byAlg.get(alg) ?? []), key]);
  for (const secret of keys.secrets) {
    add('HS256', await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']));
  }
  for (const configured of app.publicKeys ?? []) {
    const described = describePublicKey(configured);
    // The configuration refused unusable keys already (AppSchema); one built by hand is skipped.
    if (typeof described === 'string') continue;
    add(described.alg, await importJWK(described.jwk, described.alg));
  }
  return byAlg;
}

/** Constant time in the given token's content: its digest is compared with each expected digest. */
function matchesAny(given: string, digests: readonly Buffer[]): boolean {
  const digest = sha256(given);
  let found = false;
  for (const expected of digests) found = timingSafeEqual(digest, expected) || found;
  return found;
}

export class Apps {
  private readonly byId: Map<string, AppConfig>;
  /** Keys per app object (an app built by hand, as tests do, gets its own). */
  private readonly keys = new WeakMap<AppConfig, AppKeys>();
  private readonly operatorDigests: readonly Buffer[];

  constructor(apps: readonly AppConfig[], operatorToken?: string) {
    this.byId = new Map(apps.map((a) => [a.id, a]));
    this.operatorDigests = operatorToken === undefined ? [] : [sha256(operatorToken)];
  }

  get(id: string | undefined): AppConfig | undefined {
    return id === undefined ? undefined : this.byId.get(id);
  }

  private keysOf(app: AppConfig): AppKeys {
    let keys = this.keys.get(app);
    if (!keys) this.keys.set(app, (keys = keysOf(app)));
    return keys;
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
      if (app.allowAnonymous) return { ok: true, app, userId: null, grant: OPEN_GRANT };
      return refuse('token required');
    }
    const verified = await this.verifyToken(app, token, nowSec);
    if (!verified.ok) return refuse(verified.message);
    if (verified.userId === null && !app.allowAnonymous) return refuse('token has no sub');
    return { ok: true, app, userId: verified.userId, grant: verified.grant };
  }

  /**
   * Verifies a client token of `app` at `nowSec`: its signature with the keys of the
   * algorithm its header names (only HS256 with `secrets`, and the algorithm of each public
   * key), its times with CLOCK_SKEW_SEC, its `sub` and its permission claims. Used at
   * connect (admit) and by `refresh` frames.
   */
  async verifyToken(app: AppConfig, token: string, nowSec = Math.floor(Date.now() / 1000)): Promise<Verified> {
    const refuse = (message: string): Verified => ({ ok: false, message });
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return refuse('invalid token');
    }
    const keys = this.keysOf(app);
    const candidates = typeof alg === 'string' ? (await (keys.verifying ??= importVerifyKeys(app, keys))).get(alg) : undefined;
    if (!candidates) return refuse('invalid token');
    let claims: JWTPayload | null = null;
    for (const key of candidates) {
      try {
        ({ payload: claims } = await jwtVerify(token, key, {
          algorithms: [alg as string],
          currentDate: new Date(nowSec * 1000),
          clockTolerance: CLOCK_SKEW_SEC,
        }));
        break;
      } catch (error) {
        // Another key of the same algorithm may have signed it (two secrets while rotating).
        if (error instanceof errors.JWSSignatureVerificationFailed) continue;
        return refuse(describeRefusal(error));
      }
    }
    if (claims === null) return refuse('invalid token');
    // jose checks iat only against a maximum age; a token issued in the future is refused here.
    if (claims.iat !== undefined && claims.iat - CLOCK_SKEW_SEC > nowSec) return refuse('token issued in the future (iat)');
    const sub = claims.sub;
    // The user ID shape (protocol/names.ts): it names the user's Redis keys and is the `to` of direct messages.
    if (sub !== undefined && !v.is(UserIdSchema, sub)) {
      return refuse('token sub must be a user id: 1-128 of A-Z a-z 0-9 _ - . @ : = + |');
    }
    // Accepted while exp + skew is ahead (as at connect), so a live session ends at the same moment.
    const expiresAtMs = claims.exp === undefined ? null : (claims.exp + CLOCK_SKEW_SEC) * 1000;
    const grant = grantOf(claims, expiresAtMs);
    if (typeof grant === 'string') return refuse(grant);
    return { ok: true, userId: sub ?? null, grant };
  }

  /**
   * A token that lets the same user of the same app take this session over after a
   * reconnect, until `expiresAtMs`: `<sessionId>:<expiresAtMs in base 36>:<MAC>`, the MAC an
   * HMAC-SHA256 with the app's first secret (else its first API key) over app, user, session
   * and expiry, so that none of them can be changed.
   */
  resumeToken(app: AppConfig, userId: string | null, sessionId: string, expiresAtMs: number): string {
    const expiry = Math.floor(expiresAtMs).toString(36);
    return `${sessionId}:${expiry}:${this.resumeMac(this.keysOf(app).resumeKeys[0] ?? '', app, userId, sessionId, expiry)}`;
  }

  /**
   * The session a resume token names, when it was issued for this app and user and has not
   * expired at `nowMs`; otherwise null. Every resume key verifies, so that tokens issued
   * before a secret rotation still resume. No clock skew here: the instances that issue and
   * check resume tokens share one clock discipline (the registry's heartbeat ages need it too).
   */
  verifyResume(app: AppConfig, userId: string | null, token: string, nowMs = Date.now()): string | null {
    const parts = token.split(':');
    if (parts.length !== 3) return null;
    const [sessionId, expiry, mac] = parts as [string, string, string];
    if (sessionId === '' || !/^[0-9a-z]{1,12}$/.test(expiry)) return null;
    const given = Buffer.from(mac);
    let valid = false;
    for (const key of this.keysOf(app).resumeKeys) {
      const expected = Buffer.from(this.resumeMac(key, app, userId, sessionId, expiry));
      if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
    }
    return valid && nowMs < parseInt(expiry, 36) ? sessionId : null;
  }

  private resumeMac(key: string, app: AppConfig, userId: string | null, sessionId: string, expiry: string): string {
    // Only the user ID may contain "|": app IDs, session IDs and the expiry cannot, so the
    // fields cannot be shifted into one another.
    return createHmac('sha256', key).update(`${app.id}|${userId ?? ''}|${sessionId}|${expiry}`).digest('base64url');
  }

  /** Constant-time check of `Authorization: Bearer <API key>` for the server API of `app`. */
  checkBearer(app: AppConfig, header: string | undefined): boolean {
    if (!header?.startsWith('Bearer ')) return false;
    return matchesAny(header.slice(7), this.keysOf(app).apiKeyDigests);
  }

  /**
   * Operator endpoints (GET /api/instances): the OPERATOR_TOKEN, or the API key of any app
   * (an app's backend may look up where instances are; it learns nothing of other apps).
   */
  checkOperator(header: string | undefined): boolean {
    if (!header?.startsWith('Bearer ')) return false;
    const token = header.slice(7);
    let found = matchesAny(token, this.operatorDigests);
    for (const app of this.byId.values()) found = matchesAny(token, this.keysOf(app).apiKeyDigests) || found;
    return found;
  }
}

/** The message for a token jose refused for a reason other than its signature. */
function describeRefusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'invalid' && ['exp', 'nbf', 'iat'].includes(error.claim)) return 'token exp, nbf and iat must be numbers (seconds since 1970)';
    if (error.claim === 'nbf') return 'token not valid yet (nbf)';
    return `token claim ${error.claim}: ${error.message}`;
  }
  return 'invalid token';
}

/** Claims `bun run token` can add: topic permissions. */
export interface TokenPermissions {
  subscribe?: string[];
  publish?: string[];
}

/**
 * A client token for `sub` of `app`, valid for `ttlSec`: what the app's backend hands its
 * users, HS256 with the app's first secret (the key that also verifies it in admit()). Used
 * by `bun run token`. Throws when the app has no secret (public keys only).
 */
export function signClientToken(
  app: AppConfig,
  sub: string,
  ttlSec: number,
  nowSec = Math.floor(Date.now() / 1000),
  permissions: TokenPermissions = {},
): Promise<string> {
  const secret = keysOf(app).secrets[0];
  if (secret === undefined) throw new Error(`app ${app.id} has no HS256 secret (publicKeys only): sign its tokens with the private key`);
  return new SignJWT({ sub, ...permissions })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(nowSec)
    .setExpirationTime(nowSec + ttlSec)
    .sign(new TextEncoder().encode(secret));
}
