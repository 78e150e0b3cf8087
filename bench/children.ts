/**
 * Every child process the harness starts is registered here, so that each exit path (normal
 * end, thrown error, Ctrl-C, SIGTERM, the overall time budget) kills the ones still running,
 * by PID.
 */
import type { Subprocess } from 'bun';

const live = new Map<number, { name: string; proc: Subprocess }>();

/** Registers a child until it exits. */
export function track(name: string, proc: Subprocess): void {
  live.set(proc.pid, { name, proc });
  void proc.exited.then(() => live.delete(proc.pid));
}

/** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
export async function stopChild(proc: Subprocess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!exited) {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}

/** Synchronous, so that it also works from an 'exit' handler. */
export function killAllChildren(): void {
  for (const { proc } of live.values()) proc.kill('SIGKILL');
  live.clear();
}

/**
 * Installs the cleanup for every way the harness can end, and a watchdog that ends the run
 * when it exceeds `budgetMs`, whatever is hanging.
 */
export function installCleanup(budgetMs: number): void {
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children ${[...live.keys()].join(' ')}\n`);
      killAllChildren();
      process.exit(130);
    });
  }
  const watchdog = setTimeout(() => {
    const names = [...live.values()].map((c) => c.name).join(', ');
    process.stderr.write(`bench: time budget of ${Math.round(budgetMs / 1000)} s exceeded; killing ${names || 'nothing'}\n`);
    killAllChildren();
    process.exit(2);
  }, budgetMs);
  watchdog.unref();
}
