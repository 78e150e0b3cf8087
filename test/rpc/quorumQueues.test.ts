/**
 * RPC_QUEUE_TYPE=quorum: job and results queues are quorum queues (replicated, persistent
 * jobs) instead of the default classic ones, and the whole path works the same way. A worker
 * of the other type is refused by the broker (PRECONDITION_FAILED), not silently mixed in.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import * as amqp from 'amqplib';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { APP_A } from '../support/gateway.ts';
import { startRpcStack, type RpcStack } from '../support/rpcStack.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const amqpPrefix = uniqueAmqpPrefix('rpcq');
const redisPrefix = uniquePrefix('rpcq');
let stack: RpcStack;
let worker: Worker;
let client: WsClient | undefined;

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  stack = await startRpcStack({ redisPrefix, amqpPrefix, env: { RPC_QUEUE_TYPE: 'quorum' } });
  worker = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    queueType: 'quorum',
    methods: { echo: (params, ctx) => ({ params, attempt: ctx.attempt }) },
  });
});

afterAll(async () => {
  client?.close();
  await worker?.stop();
  await stack?.stop();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup(['echo']);
});

test('a job round trip over quorum queues', async () => {
  expect(stack.config.rpcQueueType).toBe('quorum');
  client = await WsClient.open(stack.wsUrl(APP_A.id));
  client.send({ type: 'rpc', id: 'q1', method: 'echo', params: { n: 1 } });
  const result = await client.waitFor((f) => f.type === 'result' && f.id === 'q1');
  expect(result.result).toEqual({ params: { n: 1 }, attempt: 1 });
});

test('the queues are quorum queues: redeclaring one as classic is refused', async () => {
  const conn = await amqp.connect(AMQP_URL);
  try {
    for (const queue of [stack.names.jobQueue('echo'), stack.names.resultsQueue]) {
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      const refused = await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } }).then(
        () => null,
        (error: Error) => error.message,
      );
      expect(refused).toContain('PRECONDITION_FAILED');
    }
  } finally {
    await conn.close();
  }
});
