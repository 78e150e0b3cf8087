/**
 * fly.toml and the Dockerfile against the code: ports, health paths, the process commands,
 * the kill timeout against the gateway's bounded stop, and the environment Fly provides.
 * (No Docker engine or Fly account here: these files are checked, not deployed.)
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../src/config.ts';
import { MemoryCluster } from '../src/cluster/memory/memoryBackend.ts';
import { Gateway } from '../src/gateway/gateway.ts';
import { silentLogger } from '../src/lib/log.ts';
import { APP_A, startGateway, type TestGateway } from './support/gateway.ts';

const ROOT = new URL('..', import.meta.url).pathname;

interface FlyToml {
  kill_signal: string;
  kill_timeout: number;
  processes: Record<string, string>;
  env: Record<string, string>;
  deploy: { strategy: string };
  http_service: {
    processes: string[];
    internal_port: number;
    concurrency: { type: string; soft_limit: number; hard_limit: number };
    checks: { path: string; method: string }[];
  };
  checks: Record<string, { processes: string[]; port: number; path: string }>;
  vm: { processes: string[]; memory: string }[];
}

const fly = Bun.TOML.parse(readFileSync(`${ROOT}fly.toml`, 'utf8')) as unknown as FlyToml;
const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
const packageJson = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> };

/**
 * What src/main/gateway.ts adds around the gateway's own stop steps (RabbitMQ and Redis close,
 * 1.5 s each, and 0.5 s of slack): keep in step with CONNECTION_STOP_TIMEOUT_MS and
 * GATEWAY_STOP_SLACK_MS there.
 */
const ENTRY_POINT_STOP_MS = 2 * 1500 + 500;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway('memory', { ...fly.env, HOST: '127.0.0.1', PORT: '0', APPS: JSON.stringify([APP_A]) });
});
afterAll(async () => {
  await gw.stop();
});

test('the process groups run the entry points that package.json runs', () => {
  expect(Object.keys(fly.processes).sort()).toEqual(['bridge', 'web']);
  expect(fly.processes.web).toBe(packageJson.scripts.start!);
  expect(fly.processes.bridge).toBe(packageJson.scripts.bridge!);
  for (const command of Object.values(fly.processes)) expect(existsSync(`${ROOT}${command.split(' ')[1]}`)).toBe(true);
});

test('the web service listens where the gateway listens, counts connections, and checks real health paths', async () => {
  const config = loadConfig(fly.env);
  expect(fly.http_service.processes).toEqual(['web']);
  expect(fly.http_service.internal_port).toBe(config.port);
  expect(fly.http_service.concurrency.type).toBe('connections');
  expect(fly.http_service.concurrency.soft_limit).toBeLessThan(fly.http_service.concurrency.hard_limit);
  const paths = fly.http_service.checks.map((c) => c.path).sort();
  expect(paths).toEqual(['/healthz', '/readyz']);
  for (const path of paths) expect((await fetch(`${gw.http}${path}`)).status).toBe(200);
  // The bridge's own check is on its health port.
  const bridgeCheck = Object.values(fly.checks).find((c) => c.processes.includes('bridge'))!;
  expect(bridgeCheck.port).toBe(loadConfig(fly.env).bridgePort);
  expect(bridgeCheck.path).toBe('/readyz');
});

/**
 * Measured with `bun run bench --scenario idle --servers switchyard --idle-store redis`
 * (docs/deploy.md, "Sizing"): gateway RSS per idle session with Redis as the store, and of
 * the process with none. Keep in step with that page.
 */
const IDLE_SESSION_BYTES = 4.7 * 1024;
const PROCESS_BYTES = 59 * 2 ** 20;

test('the web machines hold hard_limit idle sessions in at most a fifth of their memory (the rest is for load)', () => {
  const web = fly.vm.find((vm) => vm.processes.includes('web'))!;
  const memoryBytes = Number(/^(\d+)gb$/i.exec(web.memory)?.[1] ?? Number.NaN) * 2 ** 30 || Number(/^(\d+)mb$/i.exec(web.memory)?.[1]) * 2 ** 20;
  expect(memoryBytes).toBeGreaterThan(0);
  const idleBytes = fly.http_service.concurrency.hard_limit * IDLE_SESSION_BYTES + PROCESS_BYTES;
  expect(idleBytes).toBeLessThanOrEqual(memoryBytes / 5);
});

test('kill_timeout covers the whole bounded stop with the deployed DRAIN_TIMEOUT_MS', () => {
  expect(fly.kill_signal).toBe('SIGTERM');
  const config = loadConfig({ ...fly.env, APPS: JSON.stringify([APP_A]) });
  const gateway = new Gateway(config, new MemoryCluster().backend(config.instanceId), silentLogger);
  const stopMs = gateway.stopTimeoutMs + ENTRY_POINT_STOP_MS;
  expect(stopMs).toBeGreaterThan(config.drainTimeoutMs);
  expect(fly.kill_timeout * 1000).toBeGreaterThanOrEqual(stopMs);
});

test('rolling deploys; secrets are documented, not committed', () => {
  expect(fly.deploy.strategy).toBe('rolling');
  for (const secret of ['REDIS_URL', 'AMQP_URL', 'APPS']) {
    expect(Object.keys(fly.env)).not.toContain(secret);
    expect(readFileSync(`${ROOT}fly.toml`, 'utf8')).toContain(`#   ${secret}`);
  }
});

test("Fly's machine ID and region become the instance ID and region", () => {
  const config = loadConfig({ ...fly.env, FLY_MACHINE_ID: '148ed193b95389', FLY_REGION: 'fra' });
  expect(config.instanceId).toBe('148ed193b95389');
  expect(config.region).toBe('fra');
});

test('the Dockerfile: official Bun image, two stages, production install from the lockfile, non-root, both ports', () => {
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
  expect(froms.length).toBe(2);
  for (const image of froms) expect(image.startsWith('oven/bun:')).toBe(true);
  expect(dockerfile).toMatch(/^RUN bun install --frozen-lockfile --production$/m);
  expect(dockerfile).toMatch(/^COPY package\.json bun\.lock \.\/$/m);
  const user = /^USER\s+(\S+)/m.exec(dockerfile)?.[1];
  expect(user).toBeDefined();
  expect(['root', '0']).not.toContain(user!);
  const config = loadConfig(fly.env);
  expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${config.port} ${config.bridgePort}$`, 'm'));
  expect(dockerfile).toContain(`CMD ["bun", "src/main/gateway.ts"]`);
  // The image's Bun is the one the lockfile and the tests run with here.
  expect(/ARG BUN_VERSION=(\S+)/.exec(dockerfile)?.[1]).toBe(Bun.version);
});
