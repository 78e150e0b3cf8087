/** The real entry point, as a newcomer runs it: `bun start` with no configuration, with bad configuration, and on a port already taken. */
import { afterEach, expect, test } from 'bun:test';
import { freePort, spawnGateway, type GatewayProcess } from '../support/process.ts';
import { WsClient } from '../support/wsClient.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
let running: GatewayProcess | null = null;
afterEach(async () => {
  await running?.stop('SIGKILL');
  running = null;
});

test('with no configuration it serves the demo app and warns once', async () => {
  running = await spawnGateway();
  const c = await WsClient.open(`ws://127.0.0.1:${running.port}/ws?app=demo`);
  await c.request({ type: 'subscribe', topics: ['hello'] });
  const ack = await c.request({ type: 'publish', topic: 'hello', data: 'world' });
  expect(ack.type).toBe('ack');
  expect((await c.waitForMessages('hello', 1))[0]!.data).toBe('world');
  const warnings = running.output.filter((l) => JSON.parse(l).level === 'warn');
  expect(warnings.length).toBe(1);
  expect(warnings[0]).toContain('For development only');
  c.close();
});

test('SIGTERM drains: sessions are closed with the reconnect code 4000, then the process exits 0', async () => {
  running = await spawnGateway();
  const c = await WsClient.open(`ws://127.0.0.1:${running.port}/ws?app=demo`);
  const code = await running.stop('SIGTERM');
  expect((await c.closed).code).toBe(4000);
  expect(code).toBe(0);
});

test('a bad variable exits with code 1 and one line naming it', async () => {
  const proc = Bun.spawn(['bun', 'src/main/gateway.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: 'eighty' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  expect(await proc.exited).toBe(1);
  const stderr = (await new Response(proc.stderr).text()).trim();
  expect(stderr.split('\n')).toHaveLength(1);
  expect(stderr).toContain('PORT: expected an integer');
});

test('a PORT already taken exits with code 1 and one line naming it, no stack trace', async () => {
  const taken = Bun.serve({ hostname: '127.0.0.1', port: freePort(), fetch: () => new Response('taken') });
  try {
    const proc = Bun.spawn(['bun', 'src/main/gateway.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(taken.port) },
      stdout: 'ignore',
      stderr: 'pipe',
    });
    expect(await proc.exited).toBe(1);
    const stderr = (await new Response(proc.stderr).text()).trim();
    expect(stderr.split('\n')).toEqual([`switchyard: cannot listen on 127.0.0.1:${taken.port} (PORT): address already in use`]);
  } finally {
    taken.stop(true);
  }
});
