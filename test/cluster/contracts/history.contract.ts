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
      for (let i = 0; i < 50; i++) offsets.push((await h.append('app', 't', JSON.stringify(i))).offset);
      for (let i = 1; i < offsets.length; i++) expect(compareOffsets(offsets[i]!, offsets[i - 1]!)).toBeGreaterThan(0);
    });

    test('readSince returns everything after the offset, in order', async () => {
      const h = await make(100);
      const offsets: string[] = [];
      for (let i = 0; i < 10; i++) offsets.push((await h.append('app', 't', JSON.stringify({ i }))).offset);
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
      for (let i = 0; i < 12; i++) offsets.push((await h.append('app', 't', String(i))).offset);
      const r = await h.readSince('app', 't', offsets[2]!);
      expect(r.recovered).toBe(false);
      expect(r.entries.map((e) => e.data)).toEqual(['7', '8', '9', '10', '11']);
      const ok = await h.readSince('app', 't', offsets[6]!);
      expect(ok.recovered).toBe(true);
      expect(ok.entries.length).toBe(5);
    });

    test('topics and apps are separate logs', async () => {
      const h = await make(100);
      const a = (await h.append('app1', 't', '"a"')).offset;
      await h.append('app2', 't', '"b"');
      await h.append('app1', 'u', '"c"');
      expect((await h.readSince('app1', 't', '0-0')).entries.map((e) => e.data)).toEqual(['"a"']);
      expect((await h.readSince('app2', 't', '0-0')).entries.map((e) => e.data)).toEqual(['"b"']);
      expect(await h.head('app2', 'u')).toBe('0-0');
      expect((await h.readSince('app1', 't', a)).entries).toEqual([]);
    });

    test('an offset from the future or an unknown topic cannot be vouched for', async () => {
      const h = await make(100);
      const { offset: last } = await h.append('app', 't', '1');
      const [ms] = last.split('-');
      expect((await h.readSince('app', 't', `${Number(ms) + 60_000}-0`)).recovered).toBe(false);
      expect((await h.readSince('app', 'never', '1-0')).recovered).toBe(false);
    });

    test('an offset from before the log existed cannot be vouched for', async () => {
      const h = await make(100);
      const { offset } = await h.append('app', 'fresh', '1');
      const [ms] = offset.split('-');
      const r = await h.readSince('app', 'fresh', `${Number(ms) - 1000}-0`);
      expect(r.recovered).toBe(false);
      expect(r.entries.map((e) => e.data)).toEqual(['1']);
      expect((await h.readSince('app', 'fresh', offset)).recovered).toBe(true);
    });

    test('append names the previous offset; head is the newest', async () => {
      const h = await make(100);
      const a = await h.append('app', 'chain', '1');
      const b = await h.append('app', 'chain', '2');
      const c = await h.append('app', 'chain', '3');
      expect(a.prev).toBe('0-0');
      expect(b.prev).toBe(a.offset);
      expect(c.prev).toBe(b.offset);
      expect(await h.head('app', 'chain')).toBe(c.offset);
    });

    test('readBetween is exclusive at both ends', async () => {
      const h = await make(100);
      const o: string[] = [];
      for (let i = 0; i < 6; i++) o.push((await h.append('app', 'between', String(i))).offset);
      expect((await h.readBetween('app', 'between', o[1]!, o[4]!)).map((e) => e.data)).toEqual(['2', '3']);
      expect(await h.readBetween('app', 'between', o[2]!, o[3]!)).toEqual([]);
      expect(await h.readBetween('app', 'nothing', '0-0', o[3]!)).toEqual([]);
    });
  });
}
