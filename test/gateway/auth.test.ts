/**
 * Tokens: the clock skew allowed on a JWT's `iat`, `nbf` and `exp` (at its edges, with a
 * fixed clock), and resume tokens that expire RESUME_WINDOW_MS after they were issued (the
 * expiry inside the MAC; an expired token gives a fresh session, over a real socket).
 */
import { describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { CLOCK_SKEW_SEC, Apps } from '../../src/gateway/auth.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, APP_STRICT, useGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

const tenants = new Apps([APP_A, APP_STRICT].map((a) => ({ allowAnonymous: false, allowClientPublish: false, ...a })));
const NOW = 1_800_000_000;
const admitAt = async (claims: Record<string, unknown>, nowSec = NOW) =>
  tenants.admit(APP_STRICT.id, await sign({ sub: 'alice', ...claims }, APP_STRICT.secret, 'HS256'), nowSec);

describe(`JWT times allow ${CLOCK_SKEW_SEC} s of clock skew`, () => {
  test('iat up to the skew in the future is accepted; one second more is refused', async () => {
    expect(await admitAt({ iat: NOW + 2 })).toMatchObject({ ok: true, userId: 'alice' });
    expect(await admitAt({ iat: NOW + CLOCK_SKEW_SEC })).toMatchObject({ ok: true });
    expect(await admitAt({ iat: NOW + CLOCK_SKEW_SEC + 1 })).toMatchObject({ ok: false, code: 'unauthorized', message: 'token issued in the future (iat)' });
  });

  test('nbf up to the skew in the future is accepted; one second more is refused', async () => {
    expect(await admitAt({ nbf: NOW + CLOCK_SKEW_SEC })).toMatchObject({ ok: true });
    expect(await admitAt({ nbf: NOW + CLOCK_SKEW_SEC + 1 })).toMatchObject({ ok: false, message: 'token not valid yet (nbf)' });
  });

  test('exp passed by less than the skew is accepted; by the skew, refused', async () => {
    expect(await admitAt({ exp: NOW - CLOCK_SKEW_SEC + 1 })).toMatchObject({ ok: true });
    expect(await admitAt({ exp: NOW - CLOCK_SKEW_SEC })).toMatchObject({ ok: false, closeCode: 4500, message: 'token expired' });
  });

  test('times that are not numbers are refused', async () => {
    expect(await admitAt({ exp: String(NOW + 60) })).toMatchObject({ ok: false, message: 'token exp, nbf and iat must be numbers (seconds since 1970)' });
    expect(await admitAt({ iat: null })).toMatchObject({ ok: false });
  });

  test('skew does not rescue a bad signature', async () => {
    const token = await sign({ sub: 'alice', iat: NOW }, 'another-secret-0123456789', 'HS256');
    expect(await tenants.admit(APP_STRICT.id, token, NOW)).toMatchObject({ ok: false, message: 'invalid token' });
  });
});

describe('resume tokens carry their expiry inside the MAC', () => {
  const app = { ...APP_A, allowAnonymous: true, allowClientPublish: true };
  const t0 = 1_800_000_000_000;

  test('valid until the expiry, for the same app and user only', () => {
    const token = tenants.resumeToken(app, 'alice', 'i-1.abc', t0 + 1000);
    expect(tenants.verifyResume(app, 'alice', token, t0)).toBe('i-1.abc');
    expect(tenants.verifyResume(app, 'alice', token, t0 + 999)).toBe('i-1.abc');
    expect(tenants.verifyResume(app, 'alice', token, t0 + 1000)).toBeNull();
    expect(tenants.verifyResume(app, 'bob', token, t0)).toBeNull();
    expect(tenants.verifyResume({ ...app, id: 'app-b' }, 'alice', token, t0)).toBeNull();
  });

  test('a later expiry written into the token breaks its MAC', () => {
    const [session, expiry, mac] = tenants.resumeToken(app, 'alice', 'i-1.abc', t0 + 1000).split(':');
    const extended = `${session}:${(parseInt(expiry!, 36) + 3_600_000).toString(36)}:${mac}`;
    expect(tenants.verifyResume(app, 'alice', extended, t0 + 2000)).toBeNull();
    expect(tenants.verifyResume(app, 'alice', `${session}:${mac}`, t0)).toBeNull();
  });
});

for (const backend of BACKENDS) describe(backend, () => {
  describe('resuming over a socket', () => {
    const WINDOW_MS = 1000;
    const fixture = useGateway(backend, { RESUME_WINDOW_MS: String(WINDOW_MS) });

    async function disconnected(): Promise<{ sessionId: string; token: string; closedAtMs: number }> {
      const c = await fixture.open();
      const welcome = c.frames[0]!;
      c.close();
      await c.closed;
      return { sessionId: welcome.sessionId as string, token: welcome.resumeToken as string, closedAtMs: Date.now() };
    }

    test('within RESUME_WINDOW_MS the token resumes the session', async () => {
      const { sessionId, token } = await disconnected();
      const again = await fixture.open(`${fixture.gw.wsUrl(APP_A.id)}&resume=${encodeURIComponent(token)}`);
      expect(again.frames[0]).toMatchObject({ type: 'welcome', sessionId, resumed: true });
    });

    test('after RESUME_WINDOW_MS the token gives a fresh session', async () => {
      const { sessionId, token, closedAtMs } = await disconnected();
      await waitFor(() => Date.now() > closedAtMs + WINDOW_MS + 100, { what: 'the resume window to pass' });
      const again = await fixture.open(`${fixture.gw.wsUrl(APP_A.id)}&resume=${encodeURIComponent(token)}`);
      expect(again.frames[0]).toMatchObject({ type: 'welcome', resumed: false });
      expect(again.frames[0]!.sessionId).not.toBe(sessionId);
    });

    test('a token issued 2 s in the future (a signer whose clock runs ahead) connects', async () => {
      const token = await sign({ sub: 'alice', iat: Math.floor(Date.now() / 1000) + 2 }, APP_STRICT.secret, 'HS256');
      const c = await WsClient.open(fixture.gw.wsUrl(APP_STRICT.id, token));
      expect(c.frames[0]).toMatchObject({ type: 'welcome', userId: 'alice' });
      c.close();
    });
  });
});
