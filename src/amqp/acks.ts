/**
 * Acknowledges a channel's deliveries in as few frames as possible. Each `basic.ack` costs
 * the broker a command (on a quorum queue, a Raft command), so acks decided in one event-loop
 * turn (or within a short delay, see maxDelayMs) go out together: the longest run of decided
 * deliveries at the head, in delivery order, as one cumulative ack (`multiple`), and any
 * decided delivery behind a still-open one individually (so that a slow message never holds
 * finished ones against the prefetch limit).
 *
 * A cumulative ack acknowledges every outstanding tag up to the one it names, and naming a
 * tag that is no longer outstanding closes the channel. So a delivery that another operation
 * settles (a dead-letter publish, a nack for redelivery) must be reported through `settled()`
 * after that operation: until then it blocks the run, and it is never named.
 */
import type { ConfirmChannel, ConsumeMessage } from './connection.ts';

const OPEN = 0;
const ACK = 1;
const SETTLED = 2;

interface Delivery {
  readonly message: ConsumeMessage;
  state: typeof OPEN | typeof ACK | typeof SETTLED;
}

export interface AckBatcherOptions {
  /**
   * How long a decided ack may wait for others to join it. 0: until the end of the event-loop
   * turn. More suits a consumer whose acks nobody waits for (the bridge): at a low rate one
   * frame then carries several acks. Keep it 0 where prefetch equals concurrency (a worker),
   * since an unsent ack holds a prefetch slot. @default 0
   */
  maxDelayMs?: number;
  /** Send at once when this many acks are waiting (keep it below the prefetch). @default 64 */
  maxWaiting?: number;
}

/**
 * For a consumer whose acks nobody waits for (the bridge's two): held up to 5 ms, so that at
 * a low rate one frame carries several, and sent at once when a quarter of the prefetch waits.
 */
export function unhurriedAcks(prefetch: number): AckBatcherOptions {
  return { maxDelayMs: 5, maxWaiting: Math.max(1, Math.floor(prefetch / 4)) };
}

export class AckBatcher {
  /** Deliveries in delivery order, from `head`; earlier slots are finished. */
  private queue: Delivery[] = [];
  private head = 0;
  private readonly byTag = new Map<number, Delivery>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private immediate = false;
  private closed = false;
  /** Acks decided and not yet sent. */
  private waiting = 0;
  private readonly maxDelayMs: number;
  private readonly maxWaiting: number;

  constructor(private readonly ch: ConfirmChannel, options: AckBatcherOptions = {}) {
    this.maxDelayMs = options.maxDelayMs ?? 0;
    this.maxWaiting = options.maxWaiting ?? 64;
    ch.on('close', () => {
      // The broker takes back whatever was not acknowledged; nothing here can be sent any more.
      this.closed = true;
      this.waiting = 0;
      this.queue = [];
      this.head = 0;
      this.byTag.clear();
    });
  }

  /** Call for every delivery, in delivery order, before any ack or settle of it. */
  track(message: ConsumeMessage): void {
    if (this.closed) return;
    const delivery: Delivery = { message, state: OPEN };
    this.queue.push(delivery);
    this.byTag.set(message.fields.deliveryTag, delivery);
  }

  /** The message is done: acknowledge it with the next batch (this turn, or within maxDelayMs). */
  ack(message: ConsumeMessage): void {
    this.decide(message, ACK);
  }

  /** The message was acknowledged, nacked or rejected by another operation already. */
  settled(message: ConsumeMessage): void {
    this.decide(message, SETTLED);
  }

  private decide(message: ConsumeMessage, state: typeof ACK | typeof SETTLED): void {
    const delivery = this.byTag.get(message.fields.deliveryTag);
    if (!delivery || delivery.message !== message) return;
    delivery.state = state;
    if (state === ACK) {
      this.waiting += 1;
      if (this.waiting >= this.maxWaiting) this.schedule(true);
      else this.schedule(false);
    } else if (this.queue[this.head] === delivery && this.waiting > 0) {
      // A settled delivery at the head may unblock acks decided earlier.
      this.schedule(false);
    }
  }

  /** A flush at the end of this turn (`now`, or no delay configured), else within maxDelayMs. */
  private schedule(now: boolean): void {
    if (this.immediate) return;
    if (now || this.maxDelayMs === 0) {
      this.immediate = true;
      setImmediate(() => this.flush());
    } else {
      this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
    }
  }

  /** Sends what has been decided: one cumulative ack for the head run, single acks behind it. */
  private flush(): void {
    this.immediate = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    this.waiting = 0;
    let lastAck: Delivery | null = null;
    while (this.head < this.queue.length && this.queue[this.head]!.state !== OPEN) {
      const delivery = this.queue[this.head++]!;
      this.byTag.delete(delivery.message.fields.deliveryTag);
      if (delivery.state === ACK) lastAck = delivery;
    }
    try {
      if (lastAck) this.ch.ack(lastAck.message, true);
      for (let i = this.head; i < this.queue.length; i++) {
        const delivery = this.queue[i]!;
        if (delivery.state !== ACK) continue;
        this.ch.ack(delivery.message);
        delivery.state = SETTLED;
      }
    } catch {
      // The channel closed meanwhile: the broker redelivers; consumers dedupe or tolerate it.
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
