/**
 * The RPC scenario's worker process: the TypeScript worker SDK (createWorker from
 * src/rpc/worker.ts) serving one trivial method, `echo`, which returns its params. Spawned
 * with an IPC channel; it says `ready` once it consumes, and stops its worker (running jobs
 * go back to the queue) on SIGTERM or when the harness goes away.
 *
 * argv: amqp URL, AMQP prefix, concurrency, wall-clock deadline (epoch ms) after which it
 * exits by itself, RPC_QUEUE_TYPE (classic or quorum).
 */
import { createWorker } from '../../src/rpc/worker.ts';

export const ECHO_METHOD = 'echo';

if (import.meta.main) {
  const [url = '', prefix = '', concurrencyArg = '', deadlineArg = '', queueType = 'classic'] = process.argv.slice(2);
  const worker = await createWorker({
    url,
    prefix,
    queueType: queueType === 'quorum' ? 'quorum' : 'classic',
    concurrency: Number(concurrencyArg),
    methods: { [ECHO_METHOD]: (params) => params },
  });
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await worker.stop().catch(() => {});
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('disconnect', () => void stop(0));
  setTimeout(() => void stop(3), Math.max(0, Number(deadlineArg) - Date.now()));
  process.send?.({ ready: true });
}
