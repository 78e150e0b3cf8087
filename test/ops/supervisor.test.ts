/**
 * The supervisor (`bun run cluster`), as a real process with real gateway instances on one
 * port and a real Redis: it starts one instance per `--instances`, each under `<base>-<n>`;
 * when one is killed with SIGKILL (by its PID, not the supervisor's) it comes back under the
 * same ID, and the clients that were on it reconnect and resume with no gap; SIGTERM drains
 * every instance and the supervisor exits 0. An instance that cannot start is a crash loop:
 * the supervisor gives up with one line and exit status 1.
 */
import { afterAll, expect, test } from 'bun:test';
import type { Subprocess } from 'bun';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { TopicPublisher } from '../../src/cluster/topicPublisher.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { redisBackendOptions } from '../../src/main/redisBackendOptions.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { deleteTestKeys, ResumingClient, sequenceProblems, type Published } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { collectLines } from '../support/lines.ts';
import { freePort } from '../support/process.ts';
import { REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const prefix = uniquePrefix('supervisor');
const APPS = JSON.stringify([APP_A]);
const started: Subprocess[] = [];
const childPids = new Set<number>();
/** Every supervisor started: its children are read from its log in afterAll, even after a failure. */
const supervisors: { starts(): unknown }[] = [];

afterAll(async () => {
  for (const s of supervisors) s.starts();
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
  for (const pid of childPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await deleteTestKeys(prefix);
});

interface Supervisor {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  lines: string[];
  errors: string[];
  /** `instance started` lines so far: child ID and PID. */
  starts(): { child: string; pid: number }[];
}

function startSupervisor(port: number, args: string[], env: Record<string, string> = {}): Supervisor {
  const proc = Bun.spawn(['bun', 'src/main/supervisor.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      INSTANCE_ID: 'sv',
      APPS,
      DRAIN_TIMEOUT_MS: '1000',
      ...env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  started.push(proc);
  const lines: string[] = [];
  const errors: string[] = [];
  void collectLines(proc.stdout, lines);
  void collectLines(proc.stderr, errors);
  const supervisor = {
    proc,
    lines,
    errors,
    starts: () =>
      lines
        .filter((l) => l.includes('"instance started"'))
        .map((l) => JSON.parse(l) as { child: string; pid: number })
        .map(({ child, pid }) => {
          childPids.add(pid);
          return { child, pid };
        }),
  };
  supervisors.push(supervisor);
  return supervisor;
}

async function liveIds(http: string): Promise<string[]> {
  try {
    const body = (await (await fetch(`${http}/api/instances`, { headers: { authorization: `Bearer ${APP_A.secret}` } })).json()) as { instances: { id: string }[] };
    return body.instances.map((i) => i.id).sort();
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('kill -9 of one instance: it comes back under its ID, its clients resume with no gap; SIGTERM drains all and exits 0', async () => {
  await requireRedis();
  const port = freePort();
  const http = `http://127.0.0.1:${port}`;
  const sup = startSupervisor(port, ['--instances', '2']);
  await waitFor(async () => JSON.stringify(await liveIds(http)) === '["sv-1","sv-2"]', { timeoutMs: 20_000, what: `both instances registered\n${sup.errors.join('\n')}` });

  // Two spellings of the one address: a client reconnects to "another" URL, the kernel picks the instance.
  const urls = [`ws://127.0.0.1:${port}/ws?app=${APP_A.id}`, `ws://127.0.0.1:${port}/ws?app=${APP_A.id}&again=1`];
  const clients = Array.from({ length: 40 }, () => new ResumingClient(['seq'], () => urls));
  const config = loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: prefix, APPS });
  const publisherBackend = new RedisBackend(redisBackendOptions({ ...config, redisUrl: REDIS_URL }, 'sv-test-publisher', 0), silentLogger);
  await publisherBackend.start();
  const publisher = new TopicPublisher(publisherBackend.broker);
  const published: Published[] = [];
  const publish = async (n: number) => published.push({ offset: await publisher.publish(APP_A.id, 'seq', { n }), data: { n } });
  try {
    for (const c of clients) await c.connect(urls[0]!);
    const byInstance = new Map<string, number>();
    for (const c of clients) byInstance.set(c.instanceId, (byInstance.get(c.instanceId) ?? 0) + 1);
    // The kernel spreads connections; the victim is whichever instance holds clients.
    const victimId = [...byInstance.keys()][0]!;
    const victim = sup.starts().find((s) => s.child === victimId)!;
    expect(victim).toBeDefined();

    for (let n = 0; n < 10; n++) await publish(n);
    process.kill(victim.pid, 'SIGKILL');
    for (let n = 10; n < 40; n++) await publish(n);

    await waitFor(() => sup.starts().some((s) => s.child === victimId && s.pid !== victim.pid), { timeoutMs: 15_000, what: `${victimId} restarted` });
    // Started again: its second `gateway started` (the registry may still list the killed one until it is reaped).
    const gatewayStarts = () => sup.lines.filter((l) => l.includes('"gateway started"') && l.includes(`"instance":"${victimId}"`)).length;
    await waitFor(() => gatewayStarts() === 2, { timeoutMs: 15_000, what: `${victimId} back` });
    for (let n = 40; n < 50; n++) await publish(n);

    published.sort((x, y) => compareOffsets(x.offset, y.offset));
    await waitFor(() => clients.every((c) => c.settled && c.count('seq') === 50), { timeoutMs: 30_000, what: 'every client has the 50 messages' }).catch((error) => {
      const behind = clients.filter((c) => !(c.settled && c.count('seq') === 50));
      const detail = behind.map((c) => `${c.count('seq')} on ${c.connections.map((x) => `${x.instanceId}/${x.closeCode}`).join(' ')} ${c.failures.join('; ')}`);
      throw new Error(`${String(error)}\n${detail.join('\n')}\n${sup.lines.filter((l) => /"level":"(warn|error)"/.test(l)).slice(-20).join('\n')}`);
    });
    for (const c of clients) {
      expect(c.failures).toEqual([]);
      expect(sequenceProblems(c.received.get('seq')!, published)).toEqual([]);
    }
    // The victim's clients saw their connection drop and resumed.
    expect(clients.filter((c) => c.connections.length > 1).length).toBe(byInstance.get(victimId)!);
  } finally {
    for (const c of clients) c.close();
    await publisherBackend.close();
  }

  const pids = sup.starts().map((s) => s.pid).filter(alive);
  expect(pids).toHaveLength(2);
  sup.proc.kill('SIGTERM');
  expect(await sup.proc.exited).toBe(0);
  expect(pids.filter(alive)).toEqual([]);
  // Each instance went through its stop (drain, retire): the rest of their output is still on its way.
  await waitFor(() => sup.lines.filter((l) => l.includes('"gateway stopped"')).length === 2, { what: 'both instances stopped' });
  const registry = testClient();
  try {
    expect(await registry.zcard(new Keys(prefix).alive)).toBe(0);
  } finally {
    registry.disconnect();
  }
}, 90_000);

test('an instance that cannot start is a crash loop: one line, the others stopped, exit status 1', async () => {
  await requireRedis();
  const port = freePort();
  // The port is taken by a listener that does not share it: every instance fails to bind.
  const squatter = Bun.serve({ hostname: '127.0.0.1', port, fetch: () => new Response('taken') });
  try {
    const sup = startSupervisor(port, ['--instances', '1']);
    expect(await sup.proc.exited).toBe(1);
    const giveUp = sup.errors.filter((l) => l.startsWith('switchyard supervisor:'));
    expect(giveUp).toHaveLength(1);
    expect(giveUp[0]).toContain('instance sv-1 exited 5 times within 60 s');
    expect(sup.starts()).toHaveLength(5);
  } finally {
    squatter.stop(true);
  }
}, 60_000);

test('--instances above 1 without REDIS_URL is refused with one line', async () => {
  const sup = startSupervisor(freePort(), ['--instances', '2'], { REDIS_URL: '' });
  expect(await sup.proc.exited).toBe(1);
  expect(sup.errors.join('\n')).toContain('--instances above 1 needs REDIS_URL');
});
