/**
 * One RabbitMQ connection that survives broker restarts: amqplib's recovery reconnects with
 * capped exponential backoff and jitter, and after every (re)connect runs the setup hooks,
 * which redeclare topology and recreate channels and consumers. The only place that calls
 * amqplib's connect.
 */
import * as amqp from 'amqplib';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import { TIMED_OUT, withTimeout } from '../lib/timeout.ts';

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

/** How long stop() waits for the broker to answer the close handshake. */
const CLOSE_TIMEOUT_MS = 1000;

export class AmqpConnection implements Service {
  private model: amqp.RecoveringChannelModel | null = null;
  /** The current connection's socket (amqplib keeps it private): stop() destroys it when the broker does not answer. */
  private socket: Socket | null = null;
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
          this.socket = socketOf(model);
          if (this.socket) coalesceWrites(this.socket);
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

  /**
   * Closes the connection: unacknowledged messages go back to their queues. The close
   * handshake waits for the broker's answer; a broker that stopped answering gets
   * CLOSE_TIMEOUT_MS, then the socket is destroyed (the broker requeues just the same when
   * it notices). Nothing reconnects after stop().
   */
  async stop(): Promise<void> {
    this.connected = false;
    const model = this.model;
    this.model = null;
    if (!model) return;
    const closed = await withTimeout(model.close().catch(() => {}), CLOSE_TIMEOUT_MS);
    if (closed === TIMED_OUT) {
      this.log.warn('rabbitmq did not answer the close; dropping the connection', { name: this.options.name, timeoutMs: CLOSE_TIMEOUT_MS });
      this.socket?.destroy();
    }
    this.socket = null;
  }
}

/**
 * amqplib writes every frame to the socket on its own: an ack, or a publish's method, header
 * and body frames, each cost a send(2) and a loopback wakeup of the broker. Corking the
 * socket at the first write of an event-loop turn and uncorking it on the next tick sends
 * what that turn wrote in one go (measured: 20 small writes went from 115 to 29 us of CPU).
 * Frame order is unchanged; only the number of system calls drops.
 */
function coalesceWrites(socket: Socket): void {
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

/** What this file uses of the connection's socket. */
interface Socket {
  write: (...args: unknown[]) => boolean;
  cork(): void;
  uncork(): void;
  destroy(): void;
}

/** The connection's socket, which amqplib keeps private; null if its shape ever changes. */
function socketOf(model: ChannelModel): Socket | null {
  const s = (model as unknown as { connection?: { stream?: Partial<Socket> } }).connection?.stream;
  const usable = typeof s?.write === 'function' && typeof s.cork === 'function' && typeof s.uncork === 'function' && typeof s.destroy === 'function';
  return usable ? (s as Socket) : null;
}
