/**
 * `bun bench/loggerCost.ts > /dev/null`: the cost of one log line, Switchyard's logger
 * (src/lib/log.ts) against pino (sync and async destinations), both writing to stdout; run
 * with stdout sent to /dev/null. Results go to stderr. Why the project keeps its own logger:
 * docs/operations.md, "Logs".
 */
import pino from 'pino';
import { createLogger } from '../src/lib/log.ts';
const N = 200_000;
const ours = createLogger('info', { instance: 'i-1' }).child({ component: 'x' });
const pSync = pino({ level: 'info', base: { instance: 'i-1' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true })).child({ component: 'x' });
const pAsync = pino({ level: 'info', base: { instance: 'i-1' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: false, minLength: 4096 })).child({ component: 'x' });
const out: string[] = [];
function bench(name: string, f: (i: number) => void) {
  for (let i = 0; i < 20000; i++) f(i);
  const t = performance.now();
  for (let i = 0; i < N; i++) f(i);
  const ms = performance.now() - t;
  out.push(`${name} ${(ms * 1e6 / N).toFixed(0)} ns/line`);
}
for (let r = 0; r < 2; r++) {
bench('current (process.stdout.write)', (i) => ours.info('session opened', { session: 'abc' + i, app: 'demo' }));
bench('pino sync destination', (i) => pSync.info({ session: 'abc' + i, app: 'demo' }, 'session opened'));
bench('pino async destination (4 KiB buffer)', (i) => pAsync.info({ session: 'abc' + i, app: 'demo' }, 'session opened'));
bench('current debug (filtered)', (i) => ours.debug('x', { i }));
bench('pino debug (filtered)', (i) => pSync.debug({ i }, 'x'));
}
pAsync.flush?.();
process.stderr.write(out.join('\n') + '\n');
