/**
 * What every sender of the load workers (publishers.ts, the AMQP update publisher and RPC
 * driver) does the same way: its paced mode, and the count of what it has outstanding (not
 * yet acknowledged, confirmed or answered) that stop() waits on; and what the AMQP worker's
 * two senders count alike.
 */
import { nowMs } from './clock.ts';

/**
 * Calls `sendDue` every millisecond with how many sends `ratePerSec` makes due since now.
 * Timers fire late now and then; sending what is due (not one per tick) keeps the mean rate
 * exact, and each message is stamped when it is actually sent. Stop it with clearInterval.
 */
export function pace(ratePerSec: number, sendDue: (due: number) => void): ReturnType<typeof setInterval> {
  const startedMs = nowMs();
  return setInterval(() => sendDue(Math.floor(((nowMs() - startedMs) * ratePerSec) / 1000)), 1);
}

export class Outstanding {
  private n = 0;
  private onIdle: (() => void) | null = null;

  get count(): number {
    return this.n;
  }

  add(): void {
    this.n += 1;
  }

  settle(): void {
    this.n -= 1;
    if (this.n === 0) this.onIdle?.();
  }

  /** Resolves with the number still outstanding once none is, or after `waitMs` at most. */
  async drain(waitMs: number): Promise<number> {
    if (this.n > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.n;
  }
}

/**
 * The counts of the AMQP worker's senders (the update publisher, the RPC driver), which its
 * stats report, and how they stop: no more sends, then a bounded wait for what is outstanding.
 */
export abstract class CountingSender {
  /** Sent, and of those settled as done (confirmed, or answered with a result) or failed. */
  sent = 0;
  done = 0;
  failed = 0;
  /** Sent while `measured` was set. */
  measuredSent = 0;
  /** What is sent from now on is measured: its latency is recorded. */
  measured = false;
  protected readonly outstanding = new Outstanding();
  protected stopped = false;
  /** The paced mode's interval, or another timer of the sender's; cleared on stop. */
  protected timer: ReturnType<typeof setTimeout> | null = null;

  /** Stops sending; resolves with the number still outstanding after the wait. */
  async stop(waitMs: number): Promise<number> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    return this.outstanding.drain(waitMs);
  }

  /** Counts a send as it goes out; returns whether it is measured. */
  protected countSend(): boolean {
    this.sent += 1;
    if (this.measured) this.measuredSent += 1;
    this.outstanding.add();
    return this.measured;
  }

  protected countSettled(ok: boolean): void {
    if (ok) this.done += 1;
    else this.failed += 1;
    this.outstanding.settle();
  }
}
