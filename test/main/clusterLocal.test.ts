/**
 * The newcomer's path of docs/bridge.md, run for real: `bun scripts/clusterLocal.ts` (what
 * `bun run cluster:local` runs) with AMQP_URL set prints the environment a bridge joins with;
 * a bridge started with exactly that environment delivers updates to a client of the
 * cluster; the TypeScript and Python publishers of docs/bridge.md, run as written (the
 * Python one with /usr/bin/python3) but for this run's AMQP prefix, are those updates.
 * Everything runs under its own Redis key prefix and AMQP prefix; the processes are stopped
 * by PID (cluster:local stops its gateways itself).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Subprocess } from 'bun';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, tails, type BridgeProcess } from '../support/bridgeProcess.ts';
import { collectLines } from '../support/lines.ts';
import { freePort } from '../support/process.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const AMQP_PREFIX = uniqueAmqpPrefix('clusterlocal');
const REDIS_PREFIX = uniquePrefix('clusterlocal');
let cluster: Subprocess<'ignore', 'pipe', 'pipe'> | null = null;
const output: string[] = [];
let bridge: BridgeProcess | null = null;
let port = 0;

/** `NAME=value` and `NAME='quoted value'` assignments before the command of a printed line. */
function assignments(line: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of line.matchAll(/([A-Z_]+)=('(?:[^']|'\\'')*'|\S+)/g)) {
    const raw = m[2]!;
    env[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replaceAll("'\\''", "'") : raw;
  }
  return env;
}

/** The first fenced block of `lang` after `heading` in docs/bridge.md, for this run's AMQP prefix. */
async function publisher(heading: string, lang: string): Promise<string> {
  const doc = await Bun.file(`${ROOT}docs/bridge.md`).text();
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(doc.indexOf(heading)));
  expect(m).not.toBeNull();
  return m![1]!.replaceAll('switchyard.updates', `${AMQP_PREFIX}.updates`);
}

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  port = freePort();
  cluster = Bun.spawn(['bun', 'scripts/clusterLocal.ts', '--instances', '1', '--port', String(port)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  void collectLines(cluster.stdout, output);
  void collectLines(cluster.stderr, output, 'stderr: ');
  await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 15_000, what: 'cluster:local ready' });
});

afterAll(async () => {
  await bridge?.stop();
  if (cluster && cluster.exitCode === null) {
    cluster.kill('SIGTERM');
    await cluster.exited;
  }
  const redis = testClient();
  await deleteKeysUnder(redis, REDIS_PREFIX).finally(() => redis.disconnect());
  const broker = await TestBroker.open(AMQP_PREFIX);
  await broker.cleanup([]);
});

test('cluster:local prints the environment a bridge joins with, and updates through that bridge reach its clients', async () => {
  const line = await waitFor(() => output.find((l) => l.startsWith('cluster:local: a bridge joins with: ')), { what: 'the join line' });
  expect(line).toEndWith(' bun run bridge');
  const env = assignments(line);
  expect(env).toEqual({ REDIS_URL, REDIS_KEY_PREFIX: REDIS_PREFIX, AMQP_URL, AMQP_PREFIX });
  const worker = output.find((l) => l.startsWith('cluster:local: a Python worker with: '));
  expect(worker && assignments(worker)).toEqual({ AMQP_URL, AMQP_PREFIX });

  bridge = await spawnBridge(env);
  const client = await WsClient.open(`ws://127.0.0.1:${port}/ws?app=demo`);
  try {
    expect(await client.request({ type: 'subscribe', topics: ['prices.eu'] })).toMatchObject({ type: 'ack' });
    const ts = Bun.spawnSync(['bun', '-e', await publisher('### Publishing from TypeScript', 'ts')], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
    expect(ts.stderr.toString()).toBe('');
    expect(ts.exitCode).toBe(0);
    const py = Bun.spawnSync(['/usr/bin/python3', '-c', await publisher('### Publishing from Python', 'python')], { stdout: 'pipe', stderr: 'pipe' });
    expect(py.stderr.toString()).toBe('');
    expect(py.exitCode).toBe(0);
    const messages = await client.waitForMessages('prices.eu', 2, 15_000).catch((error) => {
      throw new Error(`${error}\n${tails([{ name: 'cluster:local', output }, { name: 'bridge', output: bridge!.output }])}`);
    });
    expect(messages.map((m) => m.data)).toEqual([
      { sku: 'A-1', price: 12.5 },
      { sku: 'A-2', price: 7.25 },
    ]);
  } finally {
    client.close();
  }
});
