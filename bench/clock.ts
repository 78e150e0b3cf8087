/**
 * The one clock every bench process stamps with. performance.timeOrigin + performance.now()
 * is wall-clock-based yet sub-millisecond, and agrees across processes on one machine to
 * about a microsecond (measured by IPC ping-pong); process.hrtime() does not, because Bun
 * counts it from each process's start.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
