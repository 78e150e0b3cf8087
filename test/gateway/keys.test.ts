/**
 * An app's keys: two HS256 `secrets` (both verify, the first signs resume tokens; rotation),
 * `publicKeys` as PEM or JWK for RS256, ES256 and EdDSA, the old single `secret` as
 * shorthand, and `apiKeys` for the server API apart from the client-token keys. Attacks a
 * verifier must refuse: `alg: none`, a public key used as an HS256 secret, an algorithm the
 * key is not for. Verification first (Apps), then over real sockets and HTTP on both backends.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { base64url } from 'jose';
import { Apps } from '../../src/gateway/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { BACKENDS } from '../support/backends.ts';
import { useGateway, type TestGateway } from '../support/gateway.ts';
import { hs256, keyPair, type KeyPair } from '../support/tokens.ts';
import { WsClient } from '../support/wsClient.ts';

const OLD = 'old-secret-of-rotating-0123456789';
const NEW = 'new-secret-of-rotating-0123456789';
const API_1 = 'api-key-one-of-rotating-0123456789';
const API_2 = 'api-key-two-of-rotating-0123456789';

let rsa: KeyPair;
let ec: KeyPair;
let ed: KeyPair;
let stranger: KeyPair;
beforeAll(async () => {
  [rsa, ec, ed, stranger] = await Promise.all([keyPair('RS256'), keyPair('ES256'), keyPair('EdDSA'), keyPair('ES256')]);
});

/** Apps as the gateway's configuration parses them. */
function appsOf(apps: unknown[], operatorToken?: string): Apps {
  return new Apps(loadConfig({ APPS: JSON.stringify(apps) }).apps, operatorToken);
}

describe('verifying client tokens', () => {
  test('two secrets: a token signed with either is accepted; the first signs resume tokens, both verify them', async () => {
    const apps = appsOf([{ id: 'rot', secrets: [NEW, OLD] }]);
    expect(await apps.admit('rot', await hs256(OLD, 'alice'))).toMatchObject({ ok: true, userId: 'alice' });
    expect(await apps.admit('rot', await hs256(NEW, 'alice'))).toMatchObject({ ok: true, userId: 'alice' });
    expect(await apps.admit('rot', await hs256('a-third-secret-0123456789', 'alice'))).toMatchObject({ ok: false, message: 'invalid token' });
    const app = apps.get('rot')!;
    const token = apps.resumeToken(app, 'alice', 'i-1.abc', Date.now() + 60_000);
    // Issued before the rotation (OLD first), resumed after it (NEW first, OLD second).
    const before = appsOf([{ id: 'rot', secrets: [OLD] }]);
    const issuedBefore = before.resumeToken(before.get('rot')!, 'alice', 'i-1.abc', Date.now() + 60_000);
    expect(apps.verifyResume(app, 'alice', token)).toBe('i-1.abc');
    expect(apps.verifyResume(app, 'alice', issuedBefore)).toBe('i-1.abc');
    // After the old secret is removed, a token it signed no longer verifies.
    const after = appsOf([{ id: 'rot', secrets: [NEW] }]);
    expect(after.verifyResume(after.get('rot')!, 'alice', issuedBefore)).toBeNull();
    expect(await after.admit('rot', await hs256(OLD, 'alice'))).toMatchObject({ ok: false });
  });

  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    test(`${alg}: a public key as PEM or as JWK verifies; another key of the same kind does not`, async () => {
      const pair = { RS256: rsa, ES256: ec, EdDSA: ed }[alg];
      for (const publicKey of [pair.pem, pair.jwk]) {
        const apps = appsOf([{ id: 'pk', publicKeys: [publicKey], apiKeys: [API_1] }]);
        expect(await apps.admit('pk', await pair.sign('alice'))).toMatchObject({ ok: true, userId: 'alice' });
      }
      const apps = appsOf([{ id: 'pk', publicKeys: [stranger.pem], apiKeys: [API_1] }]);
      expect(await apps.admit('pk', await pair.sign('alice'))).toMatchObject({ ok: false, message: 'invalid token' });
    });
  }

  test('secrets and public keys together: each verifies its own algorithm only', async () => {
    const apps = appsOf([{ id: 'mix', secrets: [NEW], publicKeys: [ec.pem, ed.jwk] }]);
    for (const token of [await hs256(NEW, 'a'), await ec.sign('b'), await ed.sign('c')]) {
      expect(await apps.admit('mix', token)).toMatchObject({ ok: true });
    }
    expect(await apps.admit('mix', await rsa.sign('d'))).toMatchObject({ ok: false, message: 'invalid token' });
  });

  test('alg none, and a public key used as an HS256 secret, are refused', async () => {
    const apps = appsOf([{ id: 'pk', publicKeys: [ec.pem], apiKeys: [API_1] }]);
    const claims = base64url.encode(JSON.stringify({ sub: 'mallory' }));
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${claims}.`;
    expect(await apps.admit('pk', none)).toMatchObject({ ok: false, message: 'invalid token' });
    // The classic confusion: sign HS256 with the (public) PEM text as the secret.
    expect(await apps.admit('pk', await hs256(ec.pem, 'mallory'))).toMatchObject({ ok: false, message: 'invalid token' });
    // An ES256 key does not verify an ES384 header, whatever the signature.
    const [, body, sig] = (await ec.sign('mallory')).split('.');
    const es384 = `${base64url.encode(JSON.stringify({ alg: 'ES384' }))}.${body}.${sig}`;
    expect(await apps.admit('pk', es384)).toMatchObject({ ok: false, message: 'invalid token' });
  });

  test('an app with public keys only signs resume tokens with its first API key', () => {
    const apps = appsOf([{ id: 'pk', publicKeys: [ec.pem], apiKeys: [API_1, API_2] }]);
    const app = apps.get('pk')!;
    expect(apps.verifyResume(app, 'alice', apps.resumeToken(app, 'alice', 'i-1.x', Date.now() + 1000))).toBe('i-1.x');
  });
});

describe('server API and operator keys', () => {
  const bearer = (key: string) => `Bearer ${key}`;

  test('the old single secret is the API key too; with apiKeys it is not', () => {
    const apps = appsOf([
      { id: 'old', secret: OLD },
      { id: 'split', secret: NEW, apiKeys: [API_1, API_2] },
    ]);
    expect(apps.checkBearer(apps.get('old')!, bearer(OLD))).toBe(true);
    const split = apps.get('split')!;
    expect(apps.checkBearer(split, bearer(NEW))).toBe(false);
    expect(apps.checkBearer(split, bearer(API_1))).toBe(true);
    expect(apps.checkBearer(split, bearer(API_2))).toBe(true);
    expect(apps.checkBearer(split, API_1)).toBe(false);
  });

  test('secrets without apiKeys: the server API of the app is closed', () => {
    const apps = appsOf([{ id: 'clients-only', secrets: [NEW] }]);
    expect(apps.checkBearer(apps.get('clients-only')!, bearer(NEW))).toBe(false);
  });

  test("operator endpoints: OPERATOR_TOKEN or any app's API key, never a client-token secret", () => {
    const apps = appsOf([{ id: 'split', secret: NEW, apiKeys: [API_1] }], 'operator-token-0123456789');
    expect(apps.checkOperator(bearer('operator-token-0123456789'))).toBe(true);
    expect(apps.checkOperator(bearer(API_1))).toBe(true);
    expect(apps.checkOperator(bearer(NEW))).toBe(false);
    expect(apps.checkOperator(undefined)).toBe(false);
    expect(appsOf([{ id: 'a', secret: NEW }]).checkOperator(bearer('operator-token-0123456789'))).toBe(false);
  });
});

for (const backend of BACKENDS) describe(backend, () => {
  const env: Record<string, string> = {};
  // Registered before useGateway's: the key pairs exist once the file's beforeAll ran, and
  // the gateway reads APPS when its own beforeAll starts it.
  beforeAll(() => {
    const apps: unknown[] = [
      { id: 'rot', secrets: [NEW, OLD], apiKeys: [API_1, API_2], allowAnonymous: false, allowClientPublish: false },
      { id: 'pk', publicKeys: [rsa.pem, ec.jwk, ed.pem], apiKeys: [API_1], allowAnonymous: false, allowClientPublish: false },
    ];
    env.APPS = JSON.stringify(apps);
  });
  const fixture = useGateway(backend, env);
  let gw: TestGateway;
  beforeAll(() => {
    gw = fixture.gw;
  });

  test('sessions open with HS256 tokens of either secret and with RS256, ES256 and EdDSA tokens', async () => {
    const tokens = [
      ['rot', await hs256(OLD, 'u-old')],
      ['rot', await hs256(NEW, 'u-new')],
      ['pk', await rsa.sign('u-rsa')],
      ['pk', await ec.sign('u-ec')],
      ['pk', await ed.sign('u-ed')],
    ] as const;
    for (const [app, token] of tokens) {
      const c = await fixture.open(gw.wsUrl(app, token));
      expect(c.frames[0]).toMatchObject({ type: 'welcome', userId: expect.stringMatching(/^u-/) });
    }
    const refused = await WsClient.connect(gw.wsUrl('pk', await stranger.sign('u-x')));
    expect(await refused.waitFor(() => true)).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect((await refused.closed).code).toBe(4500);
  });

  test('the server API takes either API key, not a client-token secret', async () => {
    const publish = (key: string) =>
      fetch(`${gw.http}/api/apps/rot/publish`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ topic: 't', data: 1 }) });
    expect((await publish(API_1)).status).toBe(200);
    expect((await publish(API_2)).status).toBe(200);
    const refused = await publish(NEW);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: { code: 'unauthorized', message: 'Authorization: Bearer <app API key> required' } });
  });
});
