/**
 * The harness side of the AMQP load workers: bench/amqp/amqpWorker.ts processes, driven over
 * the IPC channel of bench/core/workerIpc.ts like bench/workerPool.ts's load workers, and asked to
 * close their connections before they are stopped.
 */
import { IpcWorker } from '../core/workerIpc.ts';
import type { AmqpReplyMap, AmqpWorkerRequest } from './amqpWorkerProtocol.ts';

const WORKER_PATH = new URL('./amqpWorker.ts', import.meta.url).pathname;

export class AmqpLoadWorker extends IpcWorker<AmqpWorkerRequest, AmqpReplyMap> {
  constructor(name: string, deadlineEpochMs: number) {
    super(name, WORKER_PATH, deadlineEpochMs);
  }

  /** Closes its connections (bounded), then stops the process. */
  override async stop(): Promise<void> {
    await this.request({ op: 'close' }, 2000).catch(() => {});
    await super.stop();
  }
}
