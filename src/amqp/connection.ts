/**
 * One RabbitMQ connection that survives broker restarts: amqplib's recovery reconnects with
 * capped exponential backoff and jitter, and after every (re)connect runs the setup hooks,
 * which redeclare topology and recreate channels and consumers. The only place that calls
 * amqplib's connect.
 */
import * as amqp from 'amqplib';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';

export type ChannelModel = amqp.ChannelModel;
export type Channel = amqp.Channel;
export type ConfirmChannel = amqp.ConfirmChannel;
export type ConsumeMessage = amqp.ConsumeMessage;
export type Message = amqp.Message;

/** Called with each fresh connection; declares what it needs and starts consuming. */
export type SetupHook = (model: ChannelModel) => Promise<void>;

export interface AmqpConnectionOptions {
  url: string;
  /** Name shown in the broker's connection list. */
  name: string;
  /** First reconnect delay. @default 100 */
  initialDelayMs?: number;
  /** Reconnect delays double up to this. @default 5000 */
  maxDelayMs?: number;
}

export class AmqpConnection implements Service {
  private model: amqp.RecoveringChannelModel | null = null;
  private readonly hooks: SetupHook[] = [];
  private connected = false;
  /** Successful connects so far (1 after start; more after recoveries). */
  connects = 0;

  constructor(private readonly options: AmqpConnectionOptions, private readonly log: Logger) {}

  /** Registers a hook; it runs on every connect, in registration order. Register before start(). */
  onSetup(hook: SetupHook): void {
    this.hooks.push(hook);
  }

  isConnected(): boolean {
    return this.connected;
  }

  async start(): Promise<void> {
    this.model = await amqp.connect(this.options.url, {
      clientProperties: { connection_name: this.options.name },
      recovery: {
        initialDelay: this.options.initialDelayMs ?? 100,
        maxDelay: this.options.maxDelayMs ?? 5000,
        factor: 2,
        jitter: 0.5,
        maxRetries: Infinity,
        waitForConnect: false,
        setup: async (model: ChannelModel) => {
          coalesceWrites(model);
          for (const hook of this.hooks) await hook(model);
        },
      },
    });
    this.model.on('connect', () => {
      this.connected = true;
      this.connects += 1;
      this.log.info('amqp connected', { name: this.options.name, connects: this.connects });
    });
    this.model.on('disconnect', (error: Error) => {
      this.connected = false;
      this.log.warn('amqp disconnected; reconnecting', { name: this.options.name, error: error.message });
    });
    this.model.on('connect-failed', (error: Error) => this.log.debug('amqp connect failed', { error: error.message }));
    this.model.on('error', (error: Error) => this.log.warn('amqp error', { error: error.message }));
    await this.model.waitForConnect();
  }

  async stop(): Promise<void> {
    this.connected = false;
    await this.model?.close().catch(() => {});
    this.model = null;
  }
}

/**
 * amqplib writes every frame to the socket on its own: an ack, or a publish's method, header
 * and body frames, each cost a send(2) and a loopback wakeup of the broker. Corking the
 * socket at the first write of an event-loop turn and uncorking it on the next tick sends
 * what that turn wrote in one go (measured: 20 small writes went from 115 to 29 us of CPU).
 * Frame order is unchanged; only the number of system calls drops.
 */
function coalesceWrites(model: ChannelModel): void {
  const socket = (model as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!isCorkable(socket)) return;
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: unknown, ...args: unknown[]) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(socket, args);
  } as typeof socket.write;
}

interface Corkable {
  write: (...args: unknown[]) => boolean;
  cork(): void;
  uncork(): void;
}

function isCorkable(value: unknown): value is Corkable {
  const s = value as Partial<Corkable> | null | undefined;
  return typeof s?.write === 'function' && typeof s.cork === 'function' && typeof s.uncork === 'function';
}
