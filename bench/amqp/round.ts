/**
 * One round of a RabbitMQ scenario: a fresh namespace (AMQP prefix and Redis key prefix), the
 * processes and load workers the scenario starts through it, and the clean-up that follows
 * whatever happens: load workers, then server processes (last started first), each stopped by
 * PID, then every queue, exchange and Redis key of the namespace deleted.
 */
import type { AmqpNames } from '../../src/amqp/topology.ts';
import { LoadWorker } from '../workerPool.ts';
import type { ScenarioContext } from '../scenarios/context.ts';
import { AmqpLoadWorker } from './amqpWorkerPool.ts';
import { BrokerAdmin } from './brokerAdmin.ts';
import { deleteLeftovers, deleteNamespace, names, openNamespace, recordProcess, type Namespace } from './namespace.ts';
import { findServicePids, requireServices, type ServicePids } from './services.ts';
import type { Probes, Watched } from './stackMeasure.ts';
import { startBridge, startGateway, startJobWorker, type StackProcess } from './stackProcesses.ts';

export class AmqpRound {
  readonly names: AmqpNames;
  private readonly stack: StackProcess[] = [];
  private readonly subscriberWorkers: LoadWorker[] = [];
  private readonly amqpWorkers: AmqpLoadWorker[] = [];

  constructor(
    readonly ns: Namespace,
    readonly admin: BrokerAdmin,
    readonly services: ServicePids,
    private readonly ctx: ScenarioContext,
    private readonly tag: string,
  ) {
    this.names = names(ns);
  }

  /** The round's log file for one process: `<scenario>-<kind>-<round>-<role>.log`. */
  logPath(role: string): string {
    return this.ctx.logPath.replace(/\.log$/, `-${role}.log`);
  }

  async startGateway(): Promise<StackProcess> {
    return this.keep(await startGateway(this.ns, this.logPath('gateway')));
  }

  async startBridge(prefetch: number): Promise<StackProcess> {
    return this.keep(await startBridge(this.ns, prefetch, this.logPath('bridge')));
  }

  async startJobWorker(concurrency: number): Promise<StackProcess> {
    return this.keep(await startJobWorker(this.ns, concurrency, this.ctx.workerDeadlineMs, this.logPath('worker')));
  }

  subscribers(count: number): LoadWorker[] {
    const workers = Array.from({ length: count }, (_, i) => new LoadWorker(`${this.tag}-subscribers-${i}`, this.ctx.workerDeadlineMs));
    this.subscriberWorkers.push(...workers);
    return workers;
  }

  amqpWorker(role: string): AmqpLoadWorker {
    const worker = new AmqpLoadWorker(`${this.tag}-${role}`, this.ctx.workerDeadlineMs);
    this.amqpWorkers.push(worker);
    return worker;
  }

  /** Stops an AMQP worker before the round ends (e.g. between the phases of a scenario). */
  async retire(worker: AmqpLoadWorker): Promise<void> {
    this.amqpWorkers.splice(this.amqpWorkers.indexOf(worker), 1);
    await worker.stop();
  }

  /** What to snapshot: every server process of the round plus RabbitMQ and Redis, and every live worker. */
  probes(bridgePort?: number): Probes {
    const servers: Watched[] = [
      ...this.stack.map((p) => ({ role: p.name, pid: p.pid, assertAlive: () => p.assertAlive() })),
      { role: 'rabbitmq', pid: this.services.rabbitmq },
      { role: 'redis', pid: this.services.redis },
    ];
    return { servers, subscribers: [...this.subscriberWorkers], amqpWorkers: [...this.amqpWorkers], ...(bridgePort === undefined ? {} : { bridgePort }) };
  }

  /** Stops everything the round started, in order, and deletes the namespace; collects failures. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void>) => step().catch((error: unknown) => void errors.push(error));
    await Promise.all([...this.amqpWorkers, ...this.subscriberWorkers].map((w) => attempt(() => w.stop())));
    for (const p of [...this.stack].reverse()) await attempt(() => p.stop());
    await attempt(() => this.admin.close());
    await attempt(() => deleteNamespace(this.ns));
    if (errors.length > 0) throw new AggregateError(errors, `cleaning up ${this.ns.amqpPrefix} failed: ${errors.map(String).join('; ')}`);
  }

  private keep(p: StackProcess): StackProcess {
    this.stack.push(p);
    recordProcess(this.ns, p.pid);
    return p;
  }
}

/**
 * Runs `fn` in a fresh round and cleans up afterwards, whatever happens. `methods` names the
 * job queues the round creates, so that they are deleted too.
 */
export async function withAmqpRound<T>(tag: string, ctx: ScenarioContext, methods: string[], fn: (round: AmqpRound) => Promise<T>): Promise<T> {
  await requireServices();
  const leftovers = await deleteLeftovers();
  if (leftovers > 0) ctx.progress(`deleted the queues and keys of ${leftovers} earlier round(s) that were not cleaned up`);
  const services = findServicePids();
  const admin = await BrokerAdmin.open();
  const round = new AmqpRound(openNamespace(tag, methods, ctx.options.rpcQueueType), admin, services, ctx, tag);
  let result: T;
  try {
    result = await fn(round);
  } catch (error) {
    await round.close().catch((cleanup: unknown) => ctx.progress(`clean-up after a failure failed too: ${String(cleanup)}`));
    throw error;
  }
  await round.close();
  return result;
}
