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

describe('config: operations (drain pacing, delivery probe, dashboard token, shared port)', () => {
  test('defaults: the drain window is half the drain timeout; probe every 2 s, 10 s to fail; no operator token', () => {
    const c = loadConfig({});
    expect([c.drainTimeoutMs, c.drainWindowMs, c.probeIntervalMs, c.probeTimeoutMs, c.operatorToken, c.reusePort]).toEqual([10_000, 5000, 2000, 10_000, undefined, false]);
    expect(loadConfig({ DRAIN_TIMEOUT_MS: '3000' }).drainWindowMs).toBe(1500);
  });

  test.each([
    [{ DRAIN_TIMEOUT_MS: '1000', DRAIN_WINDOW_MS: '2000' }, 'DRAIN_WINDOW_MS: expected at most DRAIN_TIMEOUT_MS (1000)'],
    [{ PROBE_INTERVAL_MS: '5000', PROBE_TIMEOUT_MS: '5000' }, 'PROBE_TIMEOUT_MS: expected more than PROBE_INTERVAL_MS (5000)'],
    [{ OPERATOR_TOKEN: 'short' }, 'OPERATOR_TOKEN: expected at least 16 characters'],
    [{ REUSE_PORT: 'yes' }, 'REUSE_PORT: expected true or false'],
    [{ APPS: '[{"id":"_probe","secret":"0123456789abcdef"}]' }, 'app id _probe is reserved for the delivery probe'],
  ])('%j is refused with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(message);
  });
});
