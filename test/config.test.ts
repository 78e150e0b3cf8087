import { describe, expect, test } from 'bun:test';
import { ConfigError, DEMO_APP, loadConfig } from '../src/config.ts';

describe('config', () => {
  test('no configuration: demo app, in-memory mode, documented defaults', () => {
    const c = loadConfig({});
    expect(c.demoMode).toBe(true);
    expect(c.apps).toEqual([DEMO_APP]);
    expect(c.redisUrl).toBeUndefined();
    expect(c.port).toBe(8080);
    expect(c.maxFrameBytes).toBe(65536);
    expect(c.rpcQueueType).toBe('classic');
    expect(c.instanceId).toMatch(/^i-[0-9a-f]{8}$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('INSTANCE_ID wins over FLY_MACHINE_ID, which wins over a random id', () => {
    expect(loadConfig({ FLY_MACHINE_ID: 'fly123' }).instanceId).toBe('fly123');
    expect(loadConfig({ FLY_MACHINE_ID: 'fly123', INSTANCE_ID: 'mine' }).instanceId).toBe('mine');
  });

  test('APPS is a JSON array of tenants with defaults for the flags', () => {
    const c = loadConfig({ APPS: '[{"id":"shop","secret":"0123456789abcdef"}]' });
    expect(c.demoMode).toBe(false);
    expect(c.apps).toEqual([{ id: 'shop', secret: '0123456789abcdef', allowAnonymous: false, allowClientPublish: false }]);
  });

  test('presence: the demo app tracks room:, other apps what presenceTopics says; PRESENCE_MAX_MEMBERS defaults to 1000', () => {
    expect(DEMO_APP.presenceTopics).toEqual(['room:']);
    const c = loadConfig({ APPS: '[{"id":"shop","secret":"0123456789abcdef","presenceTopics":["room:","doc/"]}]', PRESENCE_MAX_MEMBERS: '50' });
    expect(c.apps[0]!.presenceTopics).toEqual(['room:', 'doc/']);
    expect(c.presenceMaxMembers).toBe(50);
    expect(loadConfig({}).presenceMaxMembers).toBe(1000);
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ APPS: 'not json' }, 'APPS'],
    [{ APPS: '[]' }, 'APPS'],
    [{ APPS: '[{"id":"a","secret":"short"}]' }, 'APPS'],
    [{ APPS: '[{"id":"a b","secret":"0123456789abcdef"}]' }, 'APPS'],
    [{ APPS: '[{"id":"a","secret":"0123456789abcdef"},{"id":"a","secret":"0123456789abcdef"}]' }, 'APPS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ INSTANCE_ID: 'has space' }, 'INSTANCE_ID'],
    [{ MAX_FRAME_BYTES: '1.5' }, 'MAX_FRAME_BYTES'],
    [{ RPC_QUEUE_TYPE: 'stream' }, 'RPC_QUEUE_TYPE'],
    [{ PRESENCE_MAX_MEMBERS: '0' }, 'PRESENCE_MAX_MEMBERS'],
    [{ APPS: '[{"id":"a","secret":"0123456789abcdef","presenceTopics":"room:"}]' }, 'APPS'],
  ])('%p is rejected naming %s', (env, variable) => {
    let caught: unknown;
    try {
      loadConfig(env as Record<string, string>);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toStartWith(`${variable}: expected `);
  });
});

describe('config: security options (issue 11)', () => {
  const problem = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    return '(accepted)';
  };
  const apps = (app: Record<string, unknown>) => ({ APPS: JSON.stringify([{ id: 'a', ...app }]) });
  const KEY = '0123456789abcdef';

  test('keys, origins and quotas of an app are read as given', () => {
    const app = { id: 'a', secrets: [KEY, `${KEY}x`], apiKeys: [`${KEY}y`], allowedOrigins: ['https://app.example.com', 'http://localhost:3000'], maxConnections: 100, maxPublishPerSec: 50 };
    expect(loadConfig({ APPS: JSON.stringify([app]) }).apps[0]).toEqual({ ...app, allowAnonymous: false, allowClientPublish: false });
    expect(loadConfig({ OPERATOR_TOKEN: 'op-token-0123456789' }).operatorToken).toBe('op-token-0123456789');
    expect(loadConfig({}).operatorToken).toBeUndefined();
  });

  test('a public key in PEM or JWK is accepted; private keys, small RSA keys and other curves are not', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const jwk = ec.publicKey.export({ format: 'jwk' });
    expect(problem(apps({ publicKeys: [pem, jwk], apiKeys: [KEY] }))).toBe('(accepted)');
    expect(problem(apps({ publicKeys: [ec.privateKey.export({ type: 'pkcs8', format: 'pem' })], apiKeys: [KEY] }))).toContain('a private key: give the public key only');
    expect(problem(apps({ publicKeys: [ec.privateKey.export({ format: 'jwk' })], apiKeys: [KEY] }))).toContain('a private JWK');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(problem(apps({ publicKeys: [p384], apiKeys: [KEY] }))).toContain('only P-256 (ES256)');
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(problem(apps({ publicKeys: [rsa1024], apiKeys: [KEY] }))).toContain('at least 2048');
    expect(problem(apps({ publicKeys: ['not a key'], apiKeys: [KEY] }))).toContain('publicKeys: not a readable public key');
    expect(problem(apps({ publicKeys: [{ ...jwk, alg: 'RS256' }], apiKeys: [KEY] }))).toContain('the JWK says alg "RS256" but the key is for ES256');
  });

  test.each([
    [{ secret: KEY, secrets: [KEY] }, 'give secret or secrets, not both'],
    [{ apiKeys: [KEY] }, 'a key for client tokens: secret, secrets or publicKeys'],
    [{ secrets: [] }, 'secrets: one or two keys'],
    [{ secrets: [KEY, KEY, KEY] }, 'secrets: one or two keys (two while rotating)'],
    [{ secrets: ['short'] }, 'secrets: at least 16 characters'],
    [{ secret: KEY, apiKeys: [KEY, KEY, KEY] }, 'apiKeys: one or two keys (two while rotating)'],
    [{ secret: KEY, allowedOrigins: ['https://app.example.com/'] }, 'allowedOrigins: each an origin'],
    [{ secret: KEY, allowedOrigins: ['app.example.com'] }, 'allowedOrigins: each an origin'],
    [{ secret: KEY, allowedOrigins: [] }, 'allowedOrigins: at least one'],
    [{ secret: KEY, maxConnections: 0 }, 'maxConnections: at least 1'],
    [{ secret: KEY, maxPublishPerSec: 1.5 }, 'APPS: expected'],
  ])('APPS %p is refused: %s', (app, message) => {
    expect(problem(apps(app))).toContain(message);
  });

  test('an app with public keys only needs an API key or a secret (resume tokens)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    expect(problem(apps({ publicKeys: [pem] }))).toContain('an app with publicKeys only needs secrets or apiKeys too');
  });

  test('OPERATOR_TOKEN: 16 or more printable characters', () => {
    expect(problem({ OPERATOR_TOKEN: 'short' })).toStartWith('OPERATOR_TOKEN: expected 16-256 printable ASCII');
  });
});

describe('config: operations (drain pacing, delivery probe, dashboard token, shared port)', () => {
  test('defaults: the drain window is half the drain timeout; probe every 2 s, 10 s to fail; no operator token', () => {
    const c = loadConfig({});
    expect([c.drainTimeoutMs, c.drainWindowMs, c.probeIntervalMs, c.probeTimeoutMs, c.operatorToken, c.reusePort]).toEqual([10_000, 5000, 2000, 10_000, undefined, false]);
    expect(loadConfig({ DRAIN_TIMEOUT_MS: '3000' }).drainWindowMs).toBe(1500);
  });

  test.each([
    [{ DRAIN_TIMEOUT_MS: '1000', DRAIN_WINDOW_MS: '2000' }, 'DRAIN_WINDOW_MS: expected at most DRAIN_TIMEOUT_MS (1000)'],
    [{ PROBE_INTERVAL_MS: '5000', PROBE_TIMEOUT_MS: '5000' }, 'PROBE_TIMEOUT_MS: expected more than PROBE_INTERVAL_MS (5000)'],
    [{ OPERATOR_TOKEN: 'short' }, 'OPERATOR_TOKEN: expected 16-256 printable ASCII'],
    [{ REUSE_PORT: 'yes' }, 'REUSE_PORT: expected true or false'],
    [{ APPS: '[{"id":"_probe","secret":"0123456789abcdef"}]' }, 'app id _probe is reserved for the delivery probe'],
  ])('%j is refused with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(message);
  });
});
