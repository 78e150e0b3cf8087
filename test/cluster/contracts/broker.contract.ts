/**
 * The Broker contract: history, routes and the publish path, passed by every implementation
 * (Memory, Redis standalone, Redis Cluster) alike. `fixture(options)` returns a fresh broker
 * with its own key space, and the inboxes of its cluster, which a publish writes to.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { Broker, PublishItem, Published } from '../../../src/cluster/broker.ts';
import type { Inbox } from '../../../src/cluster/inbox.ts';
import type { Envelope, Payload, TopicMessageEnvelope } from '../../../src/protocol/envelope.ts';
import { compareOffsets } from '../../../src/protocol/offset.ts';
import { waitFor } from '../../../src/lib/waitFor.ts';

export interface BrokerOptions {
  /** Messages kept per topic. */
  historySize: number;
  /** How long a message ID is remembered for dedupe (at least; an implementation may keep it up to twice as long). */
  dedupeWindowMs: number;
}

export interface BrokerFixture {
  broker: Broker;
  /** An inbox of `instanceId` in the broker's cluster. */
  inbox(instanceId: string): Inbox;
  /**
   * Makes every publish to the topic fail (Redis: a plain string where its history stream
   * belongs); absent where no topic can fail on its own (memory).
   */
  breakTopic?: (app: string, topic: string) => Promise<void>;
}

/** A limit above what any test here keeps. */
const ALL = 10_000;
const DEFAULTS: BrokerOptions = { historySize: 100, dedupeWindowMs: 60_000 };

/** Publishes one message; its answer. */
export async function publishOne(broker: Broker, app: string, topic: string, data: string, messageId?: string): Promise<Published> {
  const [published] = await broker.publish([{ app, topic, items: [{ data, messageId }] }]);
  return published![0]!;
}

/** What the envelopes say, once per offset, in offset order (an inbox may get an envelope twice). */
function byOffset(envelopes: readonly TopicMessageEnvelope[]): { offset: string; data: Payload }[] {
  const unique = new Map(envelopes.map((e) => [e.offset, e.data]));
  return [...unique].sort(([a], [b]) => compareOffsets(a, b)).map(([offset, data]) => ({ offset, data }));
}

export function brokerContract(name: string, fixture: (options: BrokerOptions) => BrokerFixture, capabilities: { topicsCanFail: boolean }): void {
  describe(`Broker contract: ${name}`, () => {
    const running: Inbox[] = [];
    afterEach(async () => {
      for (const inbox of running.splice(0)) await inbox.stop();
    });

    /** Starts `instanceId`'s inbox; returns the topic messages that reach it, in order. */
    async function listen(f: BrokerFixture, instanceId: string): Promise<TopicMessageEnvelope[]> {
      const got: TopicMessageEnvelope[] = [];
      const inbox = f.inbox(instanceId);
      running.push(inbox);
      await inbox.start((batch: readonly Envelope[]) => {
        for (const envelope of batch) if (envelope.kind === 'message') got.push(envelope);
      });
      return got;
    }

    /**
     * Publishes a marker on a topic routed to every listener and waits until each has it: an
     * inbox delivers in order, so whatever was sent to them before has arrived by then. The
     * markers are removed from what the listeners got.
     */
    async function settle(f: BrokerFixture, listeners: Map<string, TopicMessageEnvelope[]>): Promise<void> {
      for (const id of listeners.keys()) await f.broker.addRoute('contract', 'marker', id);
      await publishOne(f.broker, 'contract', 'marker', '"marker"');
      await waitFor(() => [...listeners.values()].every((got) => got.some((e) => e.topic === 'marker')), { what: 'the marker in every inbox' });
      for (const got of listeners.values()) got.splice(0, got.length, ...got.filter((e) => e.topic !== 'marker'));
      for (const id of listeners.keys()) await f.broker.removeRoute('contract', 'marker', id);
    }

    const make = (options: Partial<BrokerOptions> = {}) => fixture({ ...DEFAULTS, ...options });

    describe('history', () => {
      test('offsets increase strictly per topic, even within one millisecond', async () => {
        const { broker } = make();
        const offsets: string[] = [];
        for (let i = 0; i < 50; i++) offsets.push((await publishOne(broker, 'app', 't', JSON.stringify(i))).offset);
        for (let i = 1; i < offsets.length; i++) expect(compareOffsets(offsets[i]!, offsets[i - 1]!)).toBeGreaterThan(0);
      });

      test('readSince returns everything after the offset, in order', async () => {
        const { broker } = make();
        const offsets: string[] = [];
        for (let i = 0; i < 10; i++) offsets.push((await publishOne(broker, 'app', 't', JSON.stringify({ i }))).offset);
        const r = await broker.readSince('app', 't', offsets[3]!, ALL);
        expect(r.recovered).toBe(true);
        expect(r.entries.map((e) => JSON.parse(e.data as string).i)).toEqual([4, 5, 6, 7, 8, 9]);
        expect(r.entries.map((e) => e.offset)).toEqual(offsets.slice(4));
        const none = await broker.readSince('app', 't', offsets[9]!, ALL);
        expect(none).toEqual({ recovered: true, entries: [], head: offsets[9]! });
      });

      test('trimmed history says recovered: false and keeps the newest', async () => {
        const { broker } = make({ historySize: 5 });
        const offsets: string[] = [];
        for (let i = 0; i < 12; i++) offsets.push((await publishOne(broker, 'app', 't', String(i))).offset);
        const r = await broker.readSince('app', 't', offsets[2]!, ALL);
        expect(r.recovered).toBe(false);
        expect(r.entries.map((e) => e.data)).toEqual(['7', '8', '9', '10', '11']);
        const ok = await broker.readSince('app', 't', offsets[6]!, ALL);
        expect(ok.recovered).toBe(true);
        expect(ok.entries.length).toBe(5);
      });

      test('the length cap holds across batches, and the trim boundary tells recovery what is gone', async () => {
        const { broker } = make({ historySize: 50 });
        const [first] = await broker.publish([{ app: 'app', topic: 'capped', items: Array.from({ length: 40 }, (_, i) => ({ data: String(i) })) }]);
        await broker.publish([{ app: 'app', topic: 'capped', items: Array.from({ length: 40 }, (_, i) => ({ data: String(40 + i) })) }]);
        expect((await broker.readSince('app', 'capped', first![0]!.offset, ALL)).recovered).toBe(false);
        // The 30 oldest are gone, and no more: the boundary is the newest of them.
        expect((await broker.readSince('app', 'capped', first![28]!.offset, ALL)).recovered).toBe(false);
        const fromKept = await broker.readSince('app', 'capped', first![29]!.offset, ALL);
        expect(fromKept.recovered).toBe(true);
        expect(fromKept.entries.map((e) => e.data)).toEqual(Array.from({ length: 50 }, (_, i) => String(30 + i)));
      });

      test('topics and apps are separate logs', async () => {
        const { broker } = make();
        const a = (await publishOne(broker, 'app1', 't', '"a"')).offset;
        await publishOne(broker, 'app2', 't', '"b"');
        await publishOne(broker, 'app1', 'u', '"c"');
        expect((await broker.readSince('app1', 't', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['"a"']);
        expect((await broker.readSince('app2', 't', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['"b"']);
        // Nothing was published to app2's `u`: its head is still that of a topic never used.
        expect((await broker.readSince('app2', 'u', '0-0', ALL)).head).toBe((await broker.readSince('app2', 'never', '0-0', ALL)).head);
        expect((await broker.readSince('app1', 't', a, ALL)).entries).toEqual([]);
      });

      test('an offset from the future or an unknown topic cannot be vouched for', async () => {
        const { broker } = make();
        const { offset: last } = await publishOne(broker, 'app', 't', '1');
        const [ms] = last.split('-');
        expect((await broker.readSince('app', 't', `${Number(ms) + 60_000}-0`, ALL)).recovered).toBe(false);
        expect((await broker.readSince('app', 'never', '1-0', ALL)).recovered).toBe(false);
      });

      test('an offset from before the log existed cannot be vouched for', async () => {
        const { broker } = make();
        const { offset } = await publishOne(broker, 'app', 'fresh', '1');
        const [ms] = offset.split('-');
        const r = await broker.readSince('app', 'fresh', `${Number(ms) - 1000}-0`, ALL);
        expect(r.recovered).toBe(false);
        expect(r.entries.map((e) => e.data)).toEqual(['1']);
        expect((await broker.readSince('app', 'fresh', offset, ALL)).recovered).toBe(true);
      });

      test('each message names the previous offset; the position is the newest', async () => {
        const { broker } = make();
        // The first names the head of the topic without messages (`0-0` in Redis, the epoch in memory).
        const empty = (await broker.readSince('app', 'chain', '0-0', ALL)).head;
        const a = await publishOne(broker, 'app', 'chain', '1');
        const b = await publishOne(broker, 'app', 'chain', '2');
        const c = await publishOne(broker, 'app', 'chain', '3');
        expect(a.prev).toBe(empty);
        expect(b.prev).toBe(a.offset);
        expect(c.prev).toBe(b.offset);
        expect(await broker.position('app', 'chain')).toBe(c.offset);
        expect((await broker.readSince('app', 'chain', a.offset, ALL)).head).toBe(c.offset);
      });

      test('the position of a topic without messages is vouched for once messages come', async () => {
        const { broker } = make();
        const position = await broker.position('app', 'quiet');
        expect(position).toMatch(/^\d+-\d+$/);
        expect(await broker.position('app', 'quiet')).toBe(position);
        expect(await broker.readSince('app', 'quiet', position, ALL)).toEqual({ recovered: true, entries: [], head: position });
        const first = await publishOne(broker, 'app', 'quiet', '"first"');
        expect(compareOffsets(first.offset, position)).toBeGreaterThan(0);
        expect(first.prev).toBe(position);
        const r = await broker.readSince('app', 'quiet', position, ALL);
        expect(r).toEqual({ recovered: true, entries: [{ offset: first.offset, data: '"first"' }], head: first.offset });
        // An offset below the position is from before this log: not vouched for.
        const [ms] = position.split('-');
        expect((await broker.readSince('app', 'quiet', `${Number(ms) - 1}-0`, ALL)).recovered).toBe(false);
        expect((await broker.readSince('app', 'quiet', '0-0', ALL)).recovered).toBe(false);
      });

      test('readSince pages: at most limit entries, and the next page follows on from the last', async () => {
        const { broker } = make();
        const offsets: string[] = [];
        for (let i = 0; i < 10; i++) offsets.push((await publishOne(broker, 'app', 'paged', String(i))).offset);
        const pages: Payload[][] = [];
        let since = offsets[0]!;
        for (;;) {
          const page = await broker.readSince('app', 'paged', since, 4);
          expect(page.recovered).toBe(true);
          expect(page.head).toBe(offsets[9]!);
          if (page.entries.length === 0) break;
          pages.push(page.entries.map((e) => e.data));
          since = page.entries.at(-1)!.offset;
        }
        expect(pages).toEqual([['1', '2', '3', '4'], ['5', '6', '7', '8'], ['9']]);
      });

      test('an offset above the head is not vouched for, and the head says where the topic is', async () => {
        const { broker } = make();
        const { offset } = await publishOne(broker, 'app', 'ahead', '1');
        const [ms] = offset.split('-');
        expect(await broker.readSince('app', 'ahead', `${Number(ms) + 60_000}-0`, ALL)).toEqual({ recovered: false, entries: [], head: offset });
      });

      test('readBetween is exclusive at both ends', async () => {
        const { broker } = make();
        const o: string[] = [];
        for (let i = 0; i < 6; i++) o.push((await publishOne(broker, 'app', 'between', String(i))).offset);
        expect((await broker.readBetween('app', 'between', o[1]!, o[4]!)).map((e) => e.data)).toEqual(['2', '3']);
        expect(await broker.readBetween('app', 'between', o[2]!, o[3]!)).toEqual([]);
        expect(await broker.readBetween('app', 'nothing', '0-0', o[3]!)).toEqual([]);
      });
    });

    describe('publish and routes', () => {
      test('one call for several topics: each batch is appended in order, each message naming the one before', async () => {
        const { broker } = make();
        const empty = (await broker.readSince('app1', 'north', '0-0', ALL)).head;
        const results = await broker.publish([
          { app: 'app1', topic: 'north', items: [{ data: '1' }, { data: '2' }, { data: '3' }] },
          { app: 'app2', topic: 'south', items: [{ data: '"a"' }] },
          { app: 'app1', topic: 'north', items: [{ data: '4' }] },
        ]);
        expect(results.map((r) => r.length)).toEqual([3, 1, 1]);
        const north = [...results[0]!, ...results[2]!];
        expect(north.map((p) => p.duplicate)).toEqual([false, false, false, false]);
        expect(north[0]!.prev).toBe(empty);
        for (let i = 1; i < north.length; i++) expect(north[i]!.prev).toBe(north[i - 1]!.offset);
        expect(results[1]![0]!.prev).toBe((await broker.readSince('app2', 'never', '0-0', ALL)).head);
        const history = await broker.readSince('app1', 'north', '0-0', ALL);
        expect(history.entries).toEqual(north.map((p, i) => ({ offset: p.offset, data: String(i + 1) })));
        expect((await broker.readSince('app2', 'south', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['"a"']);
      });

      test('a publish reaches exactly the routed instances, as the envelopes the answer names; an unrouted topic reaches none', async () => {
        const f = make();
        const listeners = new Map([
          ['a', await listen(f, 'a')],
          ['b', await listen(f, 'b')],
          ['elsewhere', await listen(f, 'elsewhere')],
          ['idle', await listen(f, 'idle')],
        ]);
        await f.broker.addRoute('app1', 'room', 'a');
        await f.broker.addRoute('app1', 'room', 'b');
        await f.broker.addRoute('app1', 'room', 'b'); // idempotent
        await f.broker.addRoute('app1', 'other', 'elsewhere');
        await f.broker.addRoute('app2', 'room', 'elsewhere');
        expect((await f.broker.routes('app1', 'room')).sort()).toEqual(['a', 'b']);
        expect(await f.broker.routes('app1', 'unrouted')).toEqual([]);

        const items = ['"one"', '"two"', '"three"'].map((data) => ({ data }));
        const [published] = await f.broker.publish([
          { app: 'app1', topic: 'room', items },
          { app: 'app1', topic: 'unrouted', items: [{ data: 'null' }] },
        ]);
        await settle(f, listeners);
        for (const id of ['a', 'b']) {
          const got = listeners.get(id)!;
          expect(got.map((e) => [e.app, e.topic, e.data])).toEqual(items.map((i) => ['app1', 'room', i.data]));
          expect(got.map((e) => ({ offset: e.offset, prev: e.prev }))).toEqual(published!.map((p) => ({ offset: p.offset, prev: p.prev })));
        }
        expect(listeners.get('elsewhere')).toEqual([]);
        expect(listeners.get('idle')).toEqual([]);
        expect((await f.broker.readSince('app1', 'unrouted', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['null']);
      });

      test('removeRoute stops a topic reaching an instance; removeRoutes removes all of an instance and counts them', async () => {
        const f = make();
        const listeners = new Map([
          ['stays', await listen(f, 'stays')],
          ['leaves', await listen(f, 'leaves')],
          ['goes', await listen(f, 'goes')],
        ]);
        for (const id of listeners.keys()) await f.broker.addRoute('app', 'r1', id);
        await f.broker.addRoute('app', 'r2', 'goes');
        await f.broker.addRoute('app', 'r2', 'stays');
        await f.broker.addRoute('other', 'r1', 'goes');

        await f.broker.removeRoute('app', 'r1', 'leaves');
        await f.broker.removeRoute('app', 'r1', 'never-routed');
        expect(await f.broker.removeRoutes('goes')).toBe(3);
        expect(await f.broker.removeRoutes('goes')).toBe(0);
        expect(await f.broker.routes('app', 'r1')).toEqual(['stays']);
        expect(await f.broker.routes('app', 'r2')).toEqual(['stays']);
        expect(await f.broker.routes('other', 'r1')).toEqual([]);

        await f.broker.publish([
          { app: 'app', topic: 'r1', items: [{ data: '1' }] },
          { app: 'app', topic: 'r2', items: [{ data: '2' }] },
          { app: 'other', topic: 'r1', items: [{ data: '3' }] },
        ]);
        await settle(f, listeners);
        expect(listeners.get('stays')!.map((e) => [e.app, e.topic, e.data])).toEqual([
          ['app', 'r1', '1'],
          ['app', 'r2', '2'],
        ]);
        expect(listeners.get('leaves')).toEqual([]);
        expect(listeners.get('goes')).toEqual([]);
      });

      test('a message ID seen within the window is not appended again: the stored offset and prev are answered', async () => {
        const f = make();
        const got = await listen(f, 'sub');
        await f.broker.addRoute('app', 'dd', 'sub');
        // Redeliveries: a message ID comes again with the same data.
        const [first] = await f.broker.publish([{ app: 'app', topic: 'dd', items: [{ data: '1', messageId: 'x' }, { data: '1', messageId: 'x' }, { data: '2' }] }]);
        expect(first!.map((p) => p.duplicate)).toEqual([false, true, false]);
        expect(first![1]).toEqual({ ...first![0]!, duplicate: true });
        const [again] = await f.broker.publish([{ app: 'app', topic: 'dd', items: [{ data: '1', messageId: 'x' }, { data: '3', messageId: 'y' }, { data: '2' }] }]);
        expect(again![0]).toEqual({ ...first![0]!, duplicate: true });
        expect(again!.slice(1).map((p) => p.duplicate)).toEqual([false, false]);
        expect(again![1]!.prev).toBe(first![2]!.offset);

        const history = await f.broker.readSince('app', 'dd', '0-0', ALL);
        expect(history.entries.map((e) => e.data)).toEqual(['1', '2', '3', '2']);
        await settle(f, new Map([['sub', got]]));
        // An inbox may get a duplicate's envelope again (Redis Cluster sends it once more), but
        // never under an offset of its own: every envelope is a message in history.
        expect(byOffset(got)).toEqual(history.entries);
      });

      test('dedupe is per topic: the same message ID on another topic or app is another message', async () => {
        const { broker } = make();
        const results = await broker.publish([
          { app: 'app', topic: 'x:y', items: [{ data: '1', messageId: 'z' }] },
          { app: 'app', topic: 'x', items: [{ data: '2', messageId: 'y:z' }] },
          { app: 'app', topic: 'x', items: [{ data: '3', messageId: 'z' }] },
          { app: 'other', topic: 'x:y', items: [{ data: '4', messageId: 'z' }] },
        ]);
        expect(results.map((r) => r[0]!.duplicate)).toEqual([false, false, false, false]);
        expect((await broker.readSince('app', 'x', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['2', '3']);
        expect((await broker.readSince('app', 'x:y', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['1']);
        expect((await broker.readSince('other', 'x:y', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['4']);
      });

      test('a message ID is forgotten within two dedupe windows, and then stored anew', async () => {
        const WINDOW_MS = 1000;
        const { broker } = make({ dedupeWindowMs: WINDOW_MS });
        const first = await publishOne(broker, 'app', 'forget', '"first"', 'once');
        expect((await publishOne(broker, 'app', 'forget', '"repeat"', 'once')).duplicate).toBe(true);
        // Each attempt while the ID is remembered stores nothing; the first one after stores it.
        const later = await waitFor(
          async () => {
            const p = await publishOne(broker, 'app', 'forget', '"later"', 'once');
            return p.duplicate ? null : p;
          },
          { timeoutMs: 4 * WINDOW_MS + 5000, intervalMs: 50, what: 'the message ID to be forgotten' },
        );
        expect(later.prev).toBe(first.offset);
        expect((await broker.readSince('app', 'forget', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['"first"', '"later"']);
      });

      test('without an answer: the same writes, and null for every batch stored', async () => {
        const f = make();
        const got = await listen(f, 'sub');
        await f.broker.addRoute('app', 'quiet-answer', 'sub');
        const items = [{ data: '1', messageId: 's1' }, { data: '1', messageId: 's1' }, { data: '3' }];
        expect(await f.broker.publish([{ app: 'app', topic: 'quiet-answer', items }, { app: 'app', topic: 'unrouted', items: [{ data: '4' }] }], { answer: false })).toEqual([
          null,
          null,
        ]);
        const history = await f.broker.readSince('app', 'quiet-answer', '0-0', ALL);
        expect(history.entries.map((e) => e.data)).toEqual(['1', '3']);
        await settle(f, new Map([['sub', got]]));
        expect(byOffset(got)).toEqual(history.entries);
        expect(got.at(-1)!.prev).toBe(history.entries[0]!.offset);
        expect((await f.broker.readSince('app', 'unrouted', '0-0', ALL)).entries.map((e) => e.data)).toEqual(['4']);
      });

      // Only where a topic can fail at all (nothing makes an in-memory topic fail): not
      // registered elsewhere, rather than reported as skipped.
      if (capabilities.topicsCanFail) test('a topic that fails fails alone: without an answer the others are stored and routed; with one the call fails', async () => {
        const f = make();
        const got = await listen(f, 'sub');
        await f.broker.addRoute('app', 'good', 'sub');
        await f.broker.addRoute('app', 'bad', 'sub');
        await f.breakTopic!('app', 'bad');
        const outcomes = await f.broker.publish(
          [
            { app: 'app', topic: 'good', items: [{ data: '"before"' }] },
            { app: 'app', topic: 'bad', items: [{ data: '"lost"', messageId: 'b1' }] },
            { app: 'app', topic: 'good', items: [{ data: '"after"' }] },
          ],
          { answer: false },
        );
        expect(outcomes[0]).toBeNull();
        expect(outcomes[1]).toContain('WRONGTYPE');
        expect(outcomes[2]).toBeNull();
        await settle(f, new Map([['sub', got]]));
        expect(got.map((e) => [e.topic, e.data])).toEqual([
          ['good', '"before"'],
          ['good', '"after"'],
        ]);
        await expect(f.broker.publish([{ app: 'app', topic: 'bad', items: [{ data: '1' }] }])).rejects.toThrow('WRONGTYPE');
      });

      test('topics and message IDs named like Object.prototype members are topics and IDs like any other', async () => {
        const f = make();
        const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
        const got = await listen(f, 'sub');
        for (const topic of names) await f.broker.addRoute('app', topic, 'sub');
        expect(await f.broker.routes('app', 'prototype')).toEqual([]);
        const first = await f.broker.publish(names.map((topic) => ({ app: 'app', topic, items: [{ data: JSON.stringify(topic), messageId: topic }] })));
        const again = await f.broker.publish(names.map((topic) => ({ app: 'app', topic, items: [{ data: JSON.stringify(topic), messageId: topic }] })));
        expect(first.map((r) => r[0]!.duplicate)).toEqual(names.map(() => false));
        expect(again.map((r) => r[0])).toEqual(first.map((r) => ({ ...r[0]!, duplicate: true })));
        for (const [i, topic] of names.entries()) {
          expect(await f.broker.routes('app', topic)).toEqual(['sub']);
          expect((await f.broker.readSince('app', topic, '0-0', ALL)).entries).toEqual([{ offset: first[i]![0]!.offset, data: JSON.stringify(topic) }]);
          expect(await f.broker.position('app', topic)).toBe(first[i]![0]!.offset);
        }
        await settle(f, new Map([['sub', got]]));
        const received = new Set(got.map((e) => `${e.topic} ${e.offset} ${e.data}`));
        expect([...received].sort()).toEqual(names.map((t, i) => `${t} ${first[i]![0]!.offset} ${JSON.stringify(t)}`).sort());
        expect(await f.broker.removeRoutes('sub')).toBe(names.length);
      });
    });

    // ---- binary payloads (issue 14) ----
    describe('binary payloads', () => {
      test('bytes are stored and read back as bytes, text as text, in one offset order', async () => {
        const f = make();
        const got = await listen(f, 'sub');
        await f.broker.addRoute('app', 'mixed', 'sub');
        const items: PublishItem[] = [{ data: '"a"' }, { data: BYTES }, { data: '{"b":2}' }, { data: new Uint8Array(0) }, { data: NOT_UTF8 }];
        const [published] = await f.broker.publish([{ app: 'app', topic: 'mixed', items }]);
        const offsets = published!.map((p) => p.offset);
        const history = await f.broker.readSince('app', 'mixed', '0-0', ALL);
        expect(history.entries.map((e) => e.offset)).toEqual(offsets);
        expect(history.entries.map((e) => shape(e.data))).toEqual(items.map((i) => shape(i.data)));
        expect((await f.broker.readBetween('app', 'mixed', offsets[0]!, offsets[4]!)).map((e) => shape(e.data))).toEqual(items.slice(1, 4).map((i) => shape(i.data)));
        await settle(f, new Map([['sub', got]]));
        expect(got.map((e) => `${e.offset} ${shape(e.data)}`)).toEqual(items.map((i, k) => `${offsets[k]} ${shape(i.data)}`));
        expect(got.slice(1).map((e) => e.prev)).toEqual(offsets.slice(0, -1));
      });

      test('without an answer, and batches of several topics: bytes stay bytes', async () => {
        const f = make();
        const got = await listen(f, 'sub');
        await f.broker.addRoute('app', 'bin-a', 'sub');
        await f.broker.addRoute('app', 'bin-b', 'sub');
        const outcome = await f.broker.publish(
          [
            { app: 'app', topic: 'bin-a', items: [{ data: BYTES, messageId: 'm1' }, { data: '1' }] },
            { app: 'app', topic: 'bin-b', items: [{ data: NOT_UTF8 }] },
          ],
          { answer: false },
        );
        expect(outcome).toEqual([null, null]);
        expect((await f.broker.readSince('app', 'bin-a', '0-0', ALL)).entries.map((e) => shape(e.data))).toEqual([shape(BYTES), '1']);
        expect((await f.broker.readSince('app', 'bin-b', '0-0', ALL)).entries.map((e) => shape(e.data))).toEqual([shape(NOT_UTF8)]);
        await settle(f, new Map([['sub', got]]));
        expect(got.map((e) => `${e.topic} ${shape(e.data)}`).sort()).toEqual([`bin-a ${shape(BYTES)}`, 'bin-a 1', `bin-b ${shape(NOT_UTF8)}`].sort());
        // A duplicate of binary data is the stored message.
        const [again] = await f.broker.publish([{ app: 'app', topic: 'bin-a', items: [{ data: BYTES, messageId: 'm1' }] }]);
        expect(again![0]!.duplicate).toBe(true);
      });
    });
  });
}

/** Every byte value once: nothing may be lost to a text conversion. */
const BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
/** Not UTF-8 at all (a lone continuation byte, an overlong form, 0xFF). */
const NOT_UTF8 = new Uint8Array([0x80, 0xc0, 0xaf, 0xff, 0xfe, 0x00]);

/** Text as it is; bytes as `bytes:<hex>` (and a check that they are a Uint8Array). */
function shape(data: Payload): string {
  return typeof data === 'string' ? data : `bytes:${Buffer.from(data).toString('hex')}`;
}
