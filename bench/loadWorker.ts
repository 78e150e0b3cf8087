/**
 * A load-generator process, spawned by the harness with an IPC channel (core/workerIpc.ts). It
 * holds subscriber sessions and at most one publisher, and answers the harness's requests
 * (see workerProtocol.ts). Several of these run side by side so that the generator is not one
 * JavaScript thread competing with the server.
 *
 * argv[2]: wall-clock deadline (epoch ms). The worker exits by itself at that time, or as
 * soon as the harness goes away, so that it can never outlive a run.
 */
import { BenchSocket } from './benchSocket.ts';
import { nowMs } from './clock.ts';
import { Histogram } from './histogram.ts';
import { HttpPublishChannel } from './httpPublishChannel.ts';
import { measuredSendTime } from './payload.ts';
import { FloodPublisher, PacedPublisher, type PublishChannel } from './publishers.ts';
import { connectSubscriber, type SubscriberSocket } from './subscriberSocket.ts';
import { processStats, serveHarness, type IpcRequestFor } from './core/workerIpc.ts';
import { WorkerRequestSchema, type ReplyMap, type WorkerRequest, type WorkerStats } from './workerProtocol.ts';

const CONNECT_TIMEOUT_MS = 15_000;

const subscribers: SubscriberSocket[] = [];
let latency = new Histogram();
let publisherChannel: PublishChannel | null = null;
let publisher: FloodPublisher | PacedPublisher | null = null;
let received = 0;
let unexpectedCloses = 0;
let errorFrames = 0;

function watch(socket: SubscriberSocket): void {
  socket.onUnexpectedClose = () => {
    unexpectedCloses += 1;
  };
  socket.onErrorFrame = () => {
    errorFrames += 1;
  };
}

async function openSubscribers(req: IpcRequestFor<WorkerRequest, 'openSubscribers'>): Promise<ReplyMap['openSubscribers']> {
  const startedMs = nowMs();
  const onMessage = req.measureLatency
    ? (raw: string) => {
        const receivedAt = nowMs();
        received += 1;
        const sentAt = measuredSendTime(raw);
        if (sentAt !== undefined) latency.record(receivedAt - sentAt);
      }
    : () => {
        received += 1;
      };
  let next = 0;
  // `concurrency` loops each open one session at a time: a bounded connection storm.
  const opener = async (): Promise<void> => {
    while (next < req.topics.length) {
      const topic = req.topics[next++]!;
      const socket = await connectSubscriber(req.dialect ?? 'switchyard', req.url, CONNECT_TIMEOUT_MS);
      watch(socket);
      socket.onMessage = onMessage;
      subscribers.push(socket);
      await socket.subscribe([topic]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.topics.length) }, opener));
  return { opened: req.topics.length, elapsedMs: nowMs() - startedMs };
}

/** A WebSocket session for a ws:// URL, the HTTP publish API for an http:// one. */
async function connectPublisher(url: string, authorization: string | undefined): Promise<PublishChannel> {
  if (publisher) throw new Error('this worker already has a publisher');
  if (url.startsWith('http://') || url.startsWith('https://')) {
    publisherChannel = new HttpPublishChannel(url, authorization);
  } else {
    const socket = await BenchSocket.connect(url, CONNECT_TIMEOUT_MS);
    watch(socket);
    publisherChannel = socket;
  }
  return publisherChannel;
}

function stats(): WorkerStats {
  return {
    ...processStats(),
    received,
    published: publisher?.published ?? 0,
    acked: publisher?.acked ?? 0,
    publishErrors: publisher?.errors ?? 0,
    measuredPublished: publisher?.measuredPublished ?? 0,
    unexpectedCloses,
    errorFrames,
  };
}

async function handle(req: WorkerRequest): Promise<ReplyMap[WorkerRequest['op']]> {
  switch (req.op) {
    case 'openSubscribers':
      return openSubscribers(req);
    case 'startFlood': {
      const options = { ...(req.binary !== undefined ? { binary: req.binary } : {}), ...(req.credited !== undefined ? { credited: req.credited } : {}) };
      const flood = new FloodPublisher(await connectPublisher(req.url, req.authorization), req.topic, req.window, req.payloadBytes, options);
      publisher = flood;
      flood.start();
      return {};
    }
    case 'startPaced': {
      const paced = new PacedPublisher(await connectPublisher(req.url, req.authorization), req.topic, req.ratePerSec, req.payloadBytes);
      publisher = paced;
      paced.start();
      return {};
    }
    case 'credit':
      if (!(publisher instanceof FloodPublisher)) throw new Error('credit needs a flood publisher');
      publisher.grant(req.upTo);
      return {};
    case 'mark':
      if (!(publisher instanceof PacedPublisher)) throw new Error('mark needs a paced publisher');
      publisher.measured = req.measured;
      return {};
    case 'stop': {
      const outstanding = publisher ? await publisher.stop(req.waitMs) : 0;
      return { acked: publisher?.acked ?? 0, outstanding };
    }
    case 'stats':
      return stats();
    case 'latency': {
      const buckets = latency.buckets();
      latency = new Histogram();
      return { buckets };
    }
  }
}

serveHarness(WorkerRequestSchema, handle);
