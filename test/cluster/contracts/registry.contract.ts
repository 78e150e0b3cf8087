/** The InstanceRegistry contract, passed by the Memory and the Redis implementation alike. */
import { describe, expect, test } from 'bun:test';
import type { InstanceInfo, InstanceRegistry } from '../../../src/cluster/registry.ts';

/** The registry under test treats an instance silent for longer than this as dead. */
export const REGISTRY_TTL_MS = 10_000;

function info(id: string, heartbeatAtMs = Date.now()): InstanceInfo {
  return { id, region: 'local', address: '127.0.0.1:1', sessions: 0, startedAtMs: heartbeatAtMs, heartbeatAtMs };
}

export function registryContract(name: string, make: () => InstanceRegistry): void {
  describe(`InstanceRegistry contract: ${name}`, () => {
    test('the first heartbeat says the instance was unknown; the next ones that it was known', async () => {
      const r = make();
      expect(await r.heartbeat(info('i-1'))).toBe(false);
      expect(await r.heartbeat(info('i-1'))).toBe(true);
      expect((await r.live()).map((i) => i.id)).toEqual(['i-1']);
    });

    test('live lists the latest description of each instance heard from within the TTL', async () => {
      const r = make();
      await r.heartbeat(info('i-2'));
      await r.heartbeat({ ...info('i-2'), sessions: 42, region: 'ams' });
      await r.heartbeat(info('i-3', Date.now() - REGISTRY_TTL_MS - 1000));
      const live = await r.live();
      expect(live.map((i) => i.id)).toEqual(['i-2']);
      expect(live[0]).toMatchObject({ sessions: 42, region: 'ams' });
    });

    test('a removed instance is gone; its next heartbeat reports it unknown again', async () => {
      const r = make();
      await r.heartbeat(info('i-4'));
      await r.remove('i-4');
      expect(await r.live()).toEqual([]);
      expect(await r.heartbeat(info('i-4'))).toBe(false);
    });

    test('instance IDs are never looked up in a plain object (names of Object.prototype members)', async () => {
      const r = make();
      for (const id of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        expect(await r.heartbeat(info(id))).toBe(false);
        expect(await r.heartbeat(info(id))).toBe(true);
      }
      expect((await r.live()).map((i) => i.id).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    });
  });
}
