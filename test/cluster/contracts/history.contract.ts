/**
 * The History contract: every implementation (Memory, Redis) must pass the same suite.
 * `make(size)` returns a fresh, isolated History keeping `size` messages per topic.
 */
import { describe, expect, test } from 'bun:test';
import type { History } from '../../../src/cluster/history.ts';
import { compareOffsets } from '../../../src/protocol/offset.ts';

export function historyContract(name: string, make: (size: number) => Promise<History> | History): void {
  describe(`History contract: ${name}`, () => {
    test('offsets increase strictly per topic, even within one millisecond', async () => {
      const h = await make(100);
      const offsets: string[] = [];
      for (let i = 0; i < 50; i++) offsets.push(await h.append('app', 't', JSON.stringify(i)));
      for (let i = 1; i < offsets.length; i++) expect(compareOffsets(offsets[i]!, offsets[i - 1]!)).toBeGreaterThan(0);
    });

    test('readSince returns everything after the offset, in order', async () => {
      const h = await make(100);
      const offsets: string[] = [];
      for (let i = 0; i < 10; i++) offsets.push(await h.append('app', 't', JSON.stringify({ i })));
      const r = await h.readSince('app', 't', offsets[3]!);
      expect(r.recovered).toBe(true);
      expect(r.entries.map((e) => JSON.parse(e.data).i)).toEqual([4, 5, 6, 7, 8, 9]);
      expect(r.entries.map((e) => e.offset)).toEqual(offsets.slice(4));
      const none = await h.readSince('app', 't', offsets[9]!);
      expect(none).toEqual({ recovered: true, entries: [] });
    });

    test('trimmed history says recovered: false and keeps the newest', async () => {
      const h = await make(5);
      const offsets: string[] = [];
      for (let i = 0; i < 12; i++) offsets.push(await h.append('app', 't', String(i)));
      const r = await h.readSince('app', 't', offsets[2]!);
      expect(r.recovered).toBe(false);
      expect(r.entries.map((e) => e.data)).toEqual(['7', '8', '9', '10', '11']);
      const ok = await h.readSince('app', 't', offsets[6]!);
      expect(ok.recovered).toBe(true);
      expect(ok.entries.length).toBe(5);
    });

    test('topics and apps are separate logs', async () => {
      const h = await make(100);
      const a = await h.append('app1', 't', '"a"');
      await h.append('app2', 't', '"b"');
      await h.append('app1', 'u', '"c"');
      expect((await h.readSince('app1', 't', '0-0')).entries.map((e) => e.data)).toEqual(['"a"']);
      expect((await h.readSince('app2', 't', '0-0')).entries.map((e) => e.data)).toEqual(['"b"']);
      expect((await h.readSince('app1', 't', a)).entries).toEqual([]);
    });

    test('an offset from the future or an unknown topic cannot be vouched for', async () => {
      const h = await make(100);
      const last = await h.append('app', 't', '1');
      const [ms] = last.split('-');
      expect((await h.readSince('app', 't', `${Number(ms) + 60_000}-0`)).recovered).toBe(false);
      expect((await h.readSince('app', 'never', '1-0')).recovered).toBe(false);
    });
  });
}
