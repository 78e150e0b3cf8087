/**
 * What every sender of the load workers (publishers.ts, the AMQP update publisher and RPC
 * driver) does the same way: its paced mode, and the count of what it has outstanding (not
 * yet acknowledged, confirmed or answered) that stop() waits on.
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
