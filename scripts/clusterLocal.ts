/**
 * `bun run cluster:local [--instances N] [--port BASE]`: a local multi-instance cluster for
 * development. Starts Redis if it is installed but not running, then N gateway instances on
 * ports BASE..BASE+N-1 sharing one Redis, prefixing their logs with the instance ID.
 * The instances get the environment as it is (APPS, AMQP_URL, AMQP_PREFIX,
 * REDIS_KEY_PREFIX...), with the defaults a bridge and a worker also use, plus REDIS_URL
 * (127.0.0.1:6379 unless set); it prints the variables a bridge or a worker needs to join.
 * Ctrl-C stops them all (by PID).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '2' },
    port: { type: 'string', default: '8081' },
  },
});
const count = Number(values.instances);
const base = Number(values.port);
if (!Number.isInteger(count) || count < 1 || count > 32) throw new Error('--instances: 1 to 32');
if (!Number.isInteger(base) || base < 1 || base + count > 65535) throw new Error('--port: a valid base port');

const root = new URL('..', import.meta.url).pathname;
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
if (!process.env.REDIS_URL) {
  const services = Bun.spawnSync(['bash', 'scripts/services.sh', 'redis'], { cwd: root, stdout: 'inherit', stderr: 'inherit' });
  if (services.exitCode !== 0) process.exit(services.exitCode ?? 1);
}

const children = Array.from({ length: count }, (_, i) => {
  const id = `local-${i + 1}`;
  const child = Bun.spawn(['bun', 'src/main/gateway.ts'], {
    cwd: root,
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      INSTANCE_ID: id,
      PORT: String(base + i),
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      for (const line of decoder.decode(chunk).split('\n')) if (line) process.stdout.write(`[${id}] ${line}\n`);
    }
  })();
  return { id, child };
});

/**
 * The variables among `names` that a bridge or a worker must share with these instances, as
 * shell assignments; unset ones are left out (their defaults are the same everywhere).
 */
function joinEnvironment(names: readonly string[]): string {
  const env: Record<string, string | undefined> = { ...process.env, REDIS_URL: redisUrl };
  return names
    .map((name): [string, string | undefined] => [name, env[name]])
    .filter((entry): entry is [string, string] => Boolean(entry[1]))
    .map(([name, value]) => `${name}=${/^[\w:/.@-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`}`)
    .join(' ');
}

const say = (line: string) => process.stdout.write(`cluster:local: ${line}\n`);
say(`${count} instances on http://localhost:${base}..${base + count - 1} (Ctrl-C stops them)`);
if (process.env.AMQP_URL) {
  const amqp = ['AMQP_URL', 'AMQP_PREFIX', 'RPC_QUEUE_TYPE'];
  say(`a bridge joins with: ${joinEnvironment(['REDIS_URL', 'REDIS_KEY_PREFIX', 'REDIS_CLUSTER', ...amqp, 'APPS'])} bun run bridge`);
  say(`a Python worker with: ${joinEnvironment(amqp)} /usr/bin/python3 examples/python-worker/worker.py`);
} else {
  say('AMQP_URL is not set: no bridge can join, and rpc frames answer "unavailable".');
  say('With RabbitMQ: AMQP_URL=amqp://guest:guest@127.0.0.1:5672 bun run cluster:local');
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  for (const { child } of children) child.kill('SIGTERM');
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const codes = await Promise.all(children.map(({ child }) => child.exited));
process.exit(codes.every((c) => c === 0) ? 0 : 1);
