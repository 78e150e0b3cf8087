/**
 * The SDK as a package: `bun run build` builds the entry points, an app in a temporary
 * directory outside the repository installs the repository by path (`bun add <path>`), and
 * then, by package name:
 * - its TypeScript (test/package/app.ts) type-checks against the declarations, with NodeNext
 *   and with bundler resolution;
 * - test/package/app.mjs runs in Bun and in Node (Node 20 needs --experimental-websocket for
 *   the standard WebSocket; Node 22+ has it): a worker from `switchyard/worker` serves a job
 *   method on RabbitMQ, a client from `switchyard/client` subscribes, publishes, receives its
 *   message and calls the job through a live gateway and bridge, with progress.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { APP_A } from '../support/gateway.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { startRpcStack, type RpcStack } from '../support/rpcStack.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const amqpPrefix = uniqueAmqpPrefix('package');
const METHOD = `pkg.echo.${Math.random().toString(36).slice(2, 8)}`;
const app = mkdtempSync(join(tmpdir(), 'switchyard-app-'));
let stack: RpcStack;

/** Runs a command to its end. Not spawnSync: the gateway and bridge run in this process and must go on serving. */
async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd, stdout: 'pipe', stderr: 'pipe', env: { ...process.env } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: `${out}${err}` };
}

beforeAll(async () => {
  await Promise.all([requireRedis(), requireRabbit()]);
  stack = await startRpcStack({ redisPrefix: uniquePrefix('package'), amqpPrefix });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup([METHOD]);
  rmSync(app, { recursive: true, force: true });
});

test('bun run build, then an app outside the repository installs it by path', async () => {
  const build = await run(['bun', 'run', 'build'], ROOT);
  expect(build).toMatchObject({ code: 0 });
  for (const file of ['dist/client.js', 'dist/worker.js', 'dist/types/client/index.d.ts', 'dist/types/rpc/worker.d.ts']) expect([file, existsSync(`${ROOT}/${file}`)]).toEqual([file, true]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-app', private: true, type: 'module' }));
  const add = await run(['bun', 'add', ROOT], app);
  expect([add.code, add.out]).toEqual([0, expect.stringContaining('installed switchyard')]);
  cpSync(`${ROOT}/test/package/app.mjs`, join(app, 'app.mjs'));
  cpSync(`${ROOT}/test/package/app.ts`, join(app, 'app.ts'));
}, 120_000);

test('the app type-checks against the declarations (NodeNext and bundler resolution)', async () => {
  for (const resolution of [{ module: 'NodeNext', moduleResolution: 'NodeNext' }, { module: 'Preserve', moduleResolution: 'Bundler' }]) {
    // amqplib's own declarations (the worker's connection options) need Node's types.
    const compilerOptions = { target: 'ES2022', strict: true, noEmit: true, lib: ['ES2022', 'DOM'], types: ['node'], ...resolution };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts'] }));
    const tsc = await run([`${ROOT}/node_modules/.bin/tsc`, '-p', 'tsconfig.json'], app);
    expect([resolution.moduleResolution, tsc.code, tsc.out]).toEqual([resolution.moduleResolution, 0, '']);
  }
}, 60_000);

for (const runtime of ['bun', 'node'] as const) {
  test(`in ${runtime}: switchyard/client and switchyard/worker by name, against a live gateway, bridge and RabbitMQ`, async () => {
    const cmd =
      runtime === 'bun'
        ? ['bun', 'app.mjs']
        : ['node', ...(Number((await run(['node', '-p', 'process.versions.node.split(".")[0]'], app)).out.trim()) < 22 ? ['--experimental-websocket'] : []), 'app.mjs'];
    const url = stack.wsUrl(APP_A.id).split('?')[0]!;
    const result = await run([...cmd, url, APP_A.id, AMQP_URL, amqpPrefix, METHOD], app);
    expect([result.code, result.code === 0 ? '' : result.out]).toEqual([0, '']);
    const line = JSON.parse(result.out.trim().split('\n').at(-1)!) as { runtime: string; message: unknown; result: unknown; progress: unknown[] };
    expect(line.runtime.startsWith(runtime)).toBe(true);
    expect(line).toEqual({ runtime: line.runtime, message: { from: line.runtime }, result: { params: { n: 1 }, runtime: line.runtime }, progress: [{ step: 1 }] });
  }, 60_000);
}
