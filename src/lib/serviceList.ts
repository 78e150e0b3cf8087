/**
 * Ordered start and bounded stop. A composition root starts its services through a
 * ServiceList, which remembers them in start order; on shutdown it stops them in reverse,
 * one at a time, each within its own timeout. A step that times out or fails is logged and
 * the next one runs: a stop always ends, whatever state the services' backends are in, within
 * the sum of the timeouts.
 */
import type { Logger } from './log.ts';
import type { Service } from './service.ts';
import { TIMED_OUT, withTimeout } from './timeout.ts';

export interface StopStep {
  name: string;
  /** Longest this step may take; past it the step is abandoned (still running) and the next one runs. */
  timeoutMs: number;
  stop(): Promise<void> | void;
}

export type StopResult = 'stopped' | 'timed out' | 'failed';

export interface StopOutcome {
  name: string;
  result: StopResult;
  tookMs: number;
}

/** Runs the steps one after another, each bounded by its timeout. Never throws. */
export async function stopInOrder(steps: readonly StopStep[], log: Logger): Promise<StopOutcome[]> {
  const outcomes: StopOutcome[] = [];
  for (const step of steps) {
    const startedAt = performance.now();
    log.debug('stopping', { step: step.name });
    let result: StopResult;
    try {
      // An async function turns a synchronous throw into a rejection as well.
      const done = await withTimeout((async () => step.stop())(), step.timeoutMs);
      result = done === TIMED_OUT ? 'timed out' : 'stopped';
    } catch (error) {
      result = 'failed';
      log.warn('stop step failed; going on', { step: step.name, error });
    }
    const tookMs = Math.round(performance.now() - startedAt);
    if (result === 'timed out') log.warn('stop step timed out; going on', { step: step.name, timeoutMs: step.timeoutMs });
    else if (result === 'stopped') log.info('stopped', { step: step.name, tookMs });
    outcomes.push({ name: step.name, result, tookMs });
  }
  return outcomes;
}

/** Thrown by ServiceList.start() once stop() has begun: nothing starts during a shutdown. */
export class StoppingError extends Error {
  constructor(name: string) {
    super(`not starting ${name}: stopping`);
  }
}

export class ServiceList {
  private readonly steps: StopStep[] = [];
  private stopping: Promise<StopOutcome[]> | null = null;

  constructor(private readonly log: Logger) {}

  /** True once stop() was called. */
  get isStopping(): boolean {
    return this.stopping !== null;
  }

  /**
   * Starts `service` and adds it to the list. It is added before its start() runs, so that
   * a start that fails half-way, or is still running when stop() is called, gets its stop()
   * too: a service's stop() must be safe during and after a partial start().
   */
  async start(name: string, service: Service, stopTimeoutMs: number): Promise<void> {
    if (this.stopping) throw new StoppingError(name);
    this.steps.push({ name, timeoutMs: stopTimeoutMs, stop: () => service.stop() });
    this.log.debug('starting', { step: name });
    await service.start();
    if (this.stopping) throw new StoppingError(name);
    this.log.debug('started', { step: name });
  }

  /**
   * Stops every service on the list, last started first, each within its timeout. Calling
   * it again returns the first call's result.
   */
  stop(): Promise<StopOutcome[]> {
    this.stopping ??= stopInOrder([...this.steps].reverse(), this.log);
    return this.stopping;
  }

  /** The longest stop() can take: the sum of the timeouts. */
  get stopBoundMs(): number {
    return this.steps.reduce((sum, step) => sum + step.timeoutMs, 0);
  }
}
