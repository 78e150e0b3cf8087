/**
 * What both entry points do around their ServiceList: start the services in order, stop them
 * in reverse on SIGTERM or SIGINT and exit, and turn a failed start into one line on stderr
 * and exit code 1, like a configuration error.
 *
 * Exit codes: 0 after a signal-initiated stop (also when a step timed out: the log names it,
 * and the other instances reap what a retire left); 1 when starting failed, or on a second
 * signal during the stop (exits at once, without finishing it).
 */
import type { ClusterBackend } from '../cluster/backend.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import type { ServiceList } from '../lib/serviceList.ts';

export interface StartStep {
  name: string;
  service: Service;
  /** Bound of this service's stop() in the shutdown. */
  stopTimeoutMs: number;
  /** For a service that binds a port: named in the one-line message when the port is taken. */
  listensOn?: { host: string; port: number; variable: string };
}

/** The cluster backend as a service: connected first, closed last. */
export function backendService(backend: ClusterBackend): Service {
  return { start: () => backend.start(), stop: () => backend.close() };
}

/** Stops the services on SIGTERM or SIGINT, then exits 0. A second signal exits 1 at once. */
export function stopOnSignals(services: ServiceList, log: Logger): void {
  // A promise rejected where nobody awaits it is a bug to log, not a reason to drop every
  // session of the instance (Bun ends the process on an unhandled rejection by default).
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn('second signal: exiting without finishing the stop', { signal });
      process.exit(1);
    }
    signalled = true;
    log.info('shutting down', { signal, boundMs: services.stopBoundMs });
    void services.stop().then((outcomes) => {
      const incomplete = outcomes.filter((o) => o.result !== 'stopped').map((o) => `${o.name} ${o.result}`);
      if (incomplete.length > 0) log.warn('shut down; some steps did not complete', { incomplete });
      else log.info('shut down');
      process.exit(0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Starts the steps in order. Resolves true once all started; false when a stop began
 * meanwhile (the signal handler finishes it and exits). A failed start prints one line on
 * stderr (`<program>: …`), stops what started and exits 1.
 */
export async function startAll(services: ServiceList, steps: readonly StartStep[], program: string, log: Logger): Promise<boolean> {
  for (const step of steps) {
    try {
      await services.start(step.name, step.service, step.stopTimeoutMs);
    } catch (error) {
      if (services.isStopping) return false;
      const message = describeStartFailure(step, error);
      // The stack helps only with a failure nobody anticipated.
      log.error('start failed', { step: step.name, error: step.listensOn && isAddressInUse(error) ? message : error });
      process.stderr.write(`${program}: ${message}\n`);
      await services.stop();
      process.exit(1);
    }
  }
  return true;
}

function describeStartFailure(step: StartStep, error: unknown): string {
  if (step.listensOn && isAddressInUse(error)) {
    const { host, port, variable } = step.listensOn;
    return `cannot listen on ${host}:${port} (${variable}): address already in use`;
  }
  return `cannot start ${step.name}: ${error instanceof Error ? error.message : String(error)}`;
}

function isAddressInUse(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EADDRINUSE';
}
