/**
 * AckBatcher against a real broker: acks decided in any order, interleaved with messages
 * settled elsewhere (nack for redelivery, an individual ack), leave nothing unacknowledged
 * and never name a tag twice (which would close the channel).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import * as amqp from 'amqplib';
import { AckBatcher, type AckBatcherOptions } from '../../src/amqp/acks.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, uniqueAmqpPrefix } from '../support/amqp.ts';

let conn: amqp.ChannelModel;
const prefix = uniqueAmqpPrefix('acks');
const queues: string[] = [];

beforeAll(async () => {
  await requireRabbit();
  conn = await amqp.connect(AMQP_URL);
});

afterAll(async () => {
  const ch = await conn.createChannel();
  for (const queue of queues) await ch.deleteQueue(queue);
  await conn.close();
});

const variants: [string, AckBatcherOptions][] = [
  ['sent at the end of each turn', {}],
  ['held up to 5 ms, or until 16 wait', { maxDelayMs: 5, maxWaiting: 16 }],
];

test.each(variants)('out-of-order acks, nacks and single acks all settle, and the channel stays open (%s)', async (_name, options) => {
  const queue = `${prefix}.q${queues.length}`;
  queues.push(queue);
  const admin = await conn.createConfirmChannel();
  await admin.assertQueue(queue, { durable: false, arguments: { 'x-queue-type': 'classic' } });
  const total = 300;
  for (let i = 0; i < total; i++) admin.sendToQueue(queue, Buffer.from(String(i)));
  await admin.waitForConfirms();

  const ch = await conn.createConfirmChannel();
  let closed = false;
  ch.on('close', () => (closed = true));
  ch.on('error', () => {});
  await ch.prefetch(64);
  const acks = new AckBatcher(ch, options);
  const done = new Set<number>();
  const redelivered = new Set<number>();
  await ch.consume(queue, (message) => {
    if (!message) return;
    acks.track(message);
    const n = Number(message.content.toString());
    if (n % 7 === 0 && !message.fields.redelivered) {
      // Settled elsewhere, after a delay: it blocks the cumulative run until then.
      setTimeout(() => {
        ch.nack(message, false, true);
        acks.settled(message);
      }, 3);
      return;
    }
    if (n % 11 === 0) {
      ch.ack(message);
      acks.settled(message);
      done.add(n);
      return;
    }
    if (message.fields.redelivered) redelivered.add(n);
    // Acks decided in a scrambled order across event-loop turns.
    setTimeout(() => {
      acks.ack(message);
      done.add(n);
    }, (n * 37) % 5);
  });

  await waitFor(() => done.size === total, { timeoutMs: 10_000, intervalMs: 10, what: 'every message acknowledged' });
  // Unacknowledged messages would be back in the queue once the channel closes.
  await Bun.sleep(50);
  expect(closed).toBe(false);
  await ch.close();
  expect((await admin.checkQueue(queue)).messageCount).toBe(0);
  // Every nacked message came back once (those that are also multiples of 11 were acked singly).
  const nacked = Array.from({ length: total }, (_, n) => n).filter((n) => n % 7 === 0 && n % 11 !== 0);
  expect([...redelivered].sort((a, b) => a - b)).toEqual(nacked);
  await admin.close();
});
