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
