/**
 * The History contract: every implementation (Memory, Redis) must pass the same suite.
 * `make(size)` returns a fresh, isolated History keeping `size` messages per topic.
 */
import { describe, expect, test } from 'bun:test';
import type { History } from '../../../src/cluster/history.ts';
import { compareOffsets } from '../../../src/protocol/offset.ts';

/** A limit above what any test here keeps. */
const ALL = 10_000;

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
      const r = await h.readSince('app', 't', offsets[3]!, ALL);
      expect(r.recovered).toBe(true);
      expect(r.entries.map((e) => JSON.parse(e.data).i)).toEqual([4, 5, 6, 7, 8, 9]);
      expect(r.entries.map((e) => e.offset)).toEqual(offsets.slice(4));
      const none = await h.readSince('app', 't', offsets[9]!, ALL);
      expect(none).toEqual({ recovered: true, entries: [], head: offsets[9]! });
    });

    test('trimmed history says recovered: false and keeps the newest', async () => {
      const h = await make(5);
      const offsets: string[] = [];
      for (let i = 0; i < 12; i++) offsets.push((await h.append('app', 't', String(i))).offset);
      const r = await h.readSince('app', 't', offsets[2]!, ALL);
      expect(r.recovered).toBe(false);
      expect(r.entries.map((e) => e.data)).toEqual(['7', '8', '9', '10', '11']);
      const ok = await h.readSince('app', 't', offsets[6]!, ALL);
      expect(ok.recovered).toBe(true);
      expect(ok.entries.length).toBe(5);
    });

    test('topics and apps are separate logs', async () => {
      const h = await make(100);
      const a = (await h.append('app1', 't', '"a"')).offset;
      await h.append('app2', 't', '"b"');
      await h.append('app1', 'u', '"c"');
      expect((await h.readSince('app1', 't', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['"a"']);
      expect((await h.readSince('app2', 't', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['"b"']);
      expect((await h.readSince('app2', 'u', '0-0', ALL)).head).toBe('0-0');
      expect((await h.readSince('app1', 't', a, ALL)).entries).toEqual([]);
    });

    test('an offset from the future or an unknown topic cannot be vouched for', async () => {
      const h = await make(100);
      const { offset: last } = await h.append('app', 't', '1');
      const [ms] = last.split('-');
      expect((await h.readSince('app', 't', `${Number(ms) + 60_000}-0`, ALL)).recovered).toBe(false);
      expect((await h.readSince('app', 'never', '1-0', ALL)).recovered).toBe(false);
    });

    test('an offset from before the log existed cannot be vouched for', async () => {
      const h = await make(100);
      const { offset } = await h.append('app', 'fresh', '1');
      const [ms] = offset.split('-');
      const r = await h.readSince('app', 'fresh', `${Number(ms) - 1000}-0`, ALL);
      expect(r.recovered).toBe(false);
      expect(r.entries.map((e) => e.data)).toEqual(['1']);
      expect((await h.readSince('app', 'fresh', offset, ALL)).recovered).toBe(true);
    });

    test('append names the previous offset; the position is the newest', async () => {
      const h = await make(100);
      const a = await h.append('app', 'chain', '1');
      const b = await h.append('app', 'chain', '2');
      const c = await h.append('app', 'chain', '3');
      expect(a.prev).toBe('0-0');
      expect(b.prev).toBe(a.offset);
      expect(c.prev).toBe(b.offset);
      expect(await h.position('app', 'chain')).toBe(c.offset);
      expect((await h.readSince('app', 'chain', a.offset, ALL)).head).toBe(c.offset);
    });

    test('the position of a topic without messages is vouched for once messages come', async () => {
      const h = await make(100);
      const position = await h.position('app', 'quiet');
      expect(position).toMatch(/^\d+-\d+$/);
      expect(await h.position('app', 'quiet')).toBe(position);
      expect(await h.readSince('app', 'quiet', position, ALL)).toEqual({ recovered: true, entries: [], head: position });
      const first = await h.append('app', 'quiet', '"first"');
      expect(compareOffsets(first.offset, position)).toBeGreaterThan(0);
      expect(first.prev).toBe(position);
      const r = await h.readSince('app', 'quiet', position, ALL);
      expect(r).toEqual({ recovered: true, entries: [{ offset: first.offset, data: '"first"' }], head: first.offset });
      // An offset below the position is from before this log: not vouched for.
      const [ms] = position.split('-');
      expect((await h.readSince('app', 'quiet', `${Number(ms) - 1}-0`, ALL)).recovered).toBe(false);
      expect((await h.readSince('app', 'quiet', '0-0', ALL)).recovered).toBe(false);
    });

    test('readSince pages: at most limit entries, and the next page follows on from the last', async () => {
      const h = await make(100);
      const offsets: string[] = [];
      for (let i = 0; i < 10; i++) offsets.push((await h.append('app', 'paged', String(i))).offset);
      const pages: string[][] = [];
      let since = offsets[0]!;
      for (;;) {
        const page = await h.readSince('app', 'paged', since, 4);
        expect(page.recovered).toBe(true);
        expect(page.head).toBe(offsets[9]!);
        if (page.entries.length === 0) break;
        pages.push(page.entries.map((e) => e.data));
        since = page.entries.at(-1)!.offset;
      }
      expect(pages).toEqual([['1', '2', '3', '4'], ['5', '6', '7', '8'], ['9']]);
    });

    test('an offset above the head is not vouched for, and the head says where the topic is', async () => {
      const h = await make(100);
      const { offset } = await h.append('app', 'ahead', '1');
      const [ms] = offset.split('-');
      expect(await h.readSince('app', 'ahead', `${Number(ms) + 60_000}-0`, ALL)).toEqual({ recovered: false, entries: [], head: offset });
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
