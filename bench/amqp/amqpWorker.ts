/**
 * An AMQP load-generator process, spawned by the harness with an IPC channel
 * (bench/core/workerIpc.ts). It plays one role per run: update publisher, bare consumer, RPC
 * clients over WebSocket, or bare RPC clients over AMQP (see amqpWorkerProtocol.ts), and
 * answers the harness's requests.
 *
 * argv[2]: wall-clock deadline (epoch ms). The worker exits by itself at that time, or as soon
 * as the harness goes away, so that it can never outlive a run.
 */
import * as amqp from 'amqplib';
import { Histogram } from '../histogram.ts';
import { processStats, serveHarness, type IpcRequestFor } from '../core/workerIpc.ts';
import { BareConsumer } from './bareConsumer.ts';
import { BareRpc } from './bareRpc.ts';
import { RpcDriver } from './rpcDriver.ts';
import { RpcSockets } from './rpcSockets.ts';
import { UpdatePublisher } from './updatePublisher.ts';
import { AmqpWorkerRequestSchema, type AmqpReplyMap, type AmqpWorkerRequest, type AmqpWorkerStats } from './amqpWorkerProtocol.ts';

let connection: amqp.ChannelModel | null = null;
let unexpectedConnectionCloses = 0;
let closing = false;
let publisher: UpdatePublisher | null = null;
let consumer: BareConsumer | null = null;
let rpc: { driver: RpcDriver; transport: RpcSockets | BareRpc } | null = null;

function assertIdle(): void {
  if (publisher || consumer || rpc) throw new Error('this worker already has a role');
}

async function connect(url: string): Promise<amqp.ChannelModel> {
  const c = await amqp.connect(url);
  c.on('close', () => {
    if (!closing) unexpectedConnectionCloses += 1;
  });
  connection = c;
  return c;
}

async function startRpc(req: IpcRequestFor<AmqpWorkerRequest, 'startRpcClients'> | IpcRequestFor<AmqpWorkerRequest, 'startBareRpc'>): Promise<void> {
  assertIdle();
  const transport =
    req.op === 'startRpcClients' ? await RpcSockets.open(req.wsUrl, req.clients, req.method) : await BareRpc.open(req.amqpUrl, req.prefix, req.rpcQueueType, req.prefetch, req.clients, req.method);
  const driver = new RpcDriver(transport, req);
  rpc = { driver, transport };
  driver.start();
}

function stats(): AmqpWorkerStats {
  const source = publisher ?? rpc?.driver;
  return {
    ...processStats(),
    sent: source?.sent ?? 0,
    done: source?.done ?? 0,
    failed: source?.failed ?? 0,
    measuredSent: source?.measuredSent ?? 0,
    consumed: consumer?.consumed ?? 0,
    donePerTopic: publisher?.donePerTopic ?? [],
    measuredPerTopic: publisher?.measuredPerTopic ?? [],
    unexpectedCloses: unexpectedConnectionCloses + (rpc?.transport.unexpectedCloses ?? 0),
  };
}

async function handle(req: AmqpWorkerRequest): Promise<AmqpReplyMap[AmqpWorkerRequest['op']]> {
  switch (req.op) {
    case 'startUpdates': {
      assertIdle();
      const c = await connect(req.amqpUrl);
      publisher = new UpdatePublisher(await c.createConfirmChannel(), await c.createChannel(), req);
      publisher.start();
      return {};
    }
    case 'startBareConsumer':
      assertIdle();
      consumer = await BareConsumer.start(await connect(req.amqpUrl), req.queue, req.prefetch, req.measureLatency);
      return {};
    case 'startRpcClients':
    case 'startBareRpc':
      await startRpc(req);
      return {};
    case 'mark': {
      const target = publisher ?? rpc?.driver;
      if (!target) throw new Error('mark needs a publisher or RPC clients');
      target.measured = req.measured;
      return {};
    }
    case 'stop': {
      const outstanding = (await publisher?.stop(req.waitMs)) ?? (await rpc?.driver.stop(req.waitMs)) ?? 0;
      return { outstanding };
    }
    case 'stats':
      return stats();
    case 'latency': {
      // The bare consumer's or the RPC clients' (a publisher records none).
      const recorder = consumer ?? rpc?.driver;
      const buckets = recorder?.latency.buckets() ?? [];
      if (recorder) recorder.latency = new Histogram();
      return { buckets };
    }
    case 'close':
      closing = true;
      await rpc?.transport.close();
      await connection?.close().catch(() => {});
      return {};
  }
}

serveHarness(AmqpWorkerRequestSchema, handle);
