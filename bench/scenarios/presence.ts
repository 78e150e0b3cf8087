/**
 * Presence scenario: N sessions, each with a user of its own, join presence rooms (round-robin
 * over R rooms and two instances) at a fixed rate, then leave at the same rate; every join and
 * leave must reach both instances' inboxes (both are routed for every room, as instances with
 * subscribers are). It drives what a gateway's sessions drive: each instance's PresenceTracker
 * over a RedisPresence on the Redis at 127.0.0.1:6379, in this process, without WebSockets, so
 * that the figures are presence's own. Reports per join and per leave: Redis commands (script
 * internals counted), Redis read events (about one per round trip), Redis CPU and this
 * process's CPU; and the Redis memory per member (MEMORY USAGE of the presence keys, with every
 * session joined).
 *
 * The baseline's place: the same sessions, with one Presence write per session join or leave
 * (queued per room and instance, as Presence.update asks), i.e. without the tracker's
 * coalescing of what changes while a write is in flight.
 */
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import type { Presence } from '../../src/cluster/presence.ts';
import { PresenceTracker } from '../../src/gateway/presenceTracker.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { SerialQueue } from '../../src/lib/serialQueue.ts';
import { sleep } from '../clock.ts';
import { RedisHost, REDIS_URL, type RedisCounters } from '../cluster/redisHost.ts';
import { cpuSeconds, machineCpu } from '../procStats.ts';
import type { ServerKind } from '../servers.ts';
import type { ScenarioContext } from './context.ts';

const APP = 'bench';
const INSTANCES = ['pa', 'pb'] as const;
/** Sessions start (or stop) in ticks of this length, at the scenario's rate. */
const TICK_MS = 10;
/** How long the last events may take to arrive after the last join or leave. */
const DRAIN_MAX_MS = 30_000;

export interface PresenceResult {
  sessions: number;
  rooms: number;
  ratePerSec: number;
  joinSeconds: number;
  leaveSeconds: number;
  /** Join (leave) entries of users that reached the inboxes, over both instances: 2 x sessions when none is lost. */
  joinEvents: number;
  leaveEvents: number;
  redisCommandsPerJoin: number;
  redisCommandsPerLeave: number;
  redisReadsPerJoin: number;
  redisReadsPerLeave: number;
  redisUsPerJoin: number;
  redisUsPerLeave: number;
  clientUsPerJoin: number;
  clientUsPerLeave: number;
  /** MEMORY USAGE of the presence keys (topic hashes and instance indexes) with every session joined, per session. */
  redisBytesPerMember: number;
  /** Presence keys left once everyone left (0 when nothing leaks). */
  keysLeft: number;
  otherCpuCores: number;
  processesStarted: number;
}

/** Something that counts sessions in and out of a room on an instance. */
interface Driver {
  join(instance: number, room: string, user: string): void;
  leave(instance: number, room: string, user: string): void;
}

/** What a gateway does: each instance's PresenceTracker. */
function trackers(presence: Presence): Driver {
  const byInstance = INSTANCES.map((id) => new PresenceTracker(id, presence, 1000, silentLogger));
  return {
    join: (i, room, user) => void byInstance[i]!.join(APP, room, user),
    leave: (i, room, user) => byInstance[i]!.leave(APP, room, user),
  };
}

/** One write per session, queued per room and instance; a failed write is kept in `failures`. */
function perSession(presence: Presence, failures: unknown[]): Driver {
  const queue = new SerialQueue();
  const write = (i: number, room: string, user: string, sessions: number) =>
    void queue
      .run(`${i}:${room}`, async () => void (await presence.update(APP, room, INSTANCES[i]!, new Map([[user, sessions]]))))
      .catch((error: unknown) => failures.push(error));
  return { join: (i, room, user) => write(i, room, user, 1), leave: (i, room, user) => write(i, room, user, 0) };
}

interface Phase {
  seconds: number;
  commands: number;
  reads: number;
  redisUs: number;
  clientUs: number;
}

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

export async function runPresence(kind: ServerKind, ctx: ScenarioContext): Promise<PresenceResult> {
  const o = ctx.options;
  const sessions = o.presenceSessions;
  const rooms = Array.from({ length: o.presenceRooms }, (_, i) => `room:bench-${i}`);
  const host = await RedisHost.open();
  const prefix = `sypresence-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}:`;
  const backends = INSTANCES.map(
    (id) =>
      new RedisBackend(
        {
          url: REDIS_URL,
          cluster: false,
          keyPrefix: prefix,
          instanceId: id,
          historySize: 100,
          historyMaxAgeMs: 3_600_000,
          instanceTtlMs: 60_000,
          reapIntervalMs: 0,
          resumeWindowMs: 60_000,
          inbox: { batchSize: 512, blockTimeInMs: 500, maxLength: 100_000 },
        },
        silentLogger,
      ),
  );
  const events = { joined: 0, left: 0 };
  try {
    for (const backend of backends) {
      await backend.start();
      await backend.inbox.start((envelopes) => {
        for (const e of envelopes) {
          if (e.kind !== 'presence') continue;
          events.joined += e.joined.length;
          events.left += e.left.length;
        }
      });
    }
    // Both instances have subscribers in every room: the events go to both.
    for (const room of rooms) for (const id of INSTANCES) await backends[0]!.broker.addRoute(APP, room, id);
    const presence = backends[0]!.presence;
    const failures: unknown[] = [];
    const driver = kind === 'switchyard' ? trackers(presence) : perSession(presence, failures);
    const forksBefore = machineCpu().forks;
    const machineBefore = machineCpu().processSec;
    const runStart = performance.now();

    /** Runs `act` for every session at the rate, then waits until `arrived()` reaches 2 x sessions. */
    const phase = async (act: (i: number) => void, arrived: () => number): Promise<Phase> => {
      const counters0: RedisCounters = await host.counters();
      const redis0 = cpuSeconds(host.pid);
      const client0 = process.cpuUsage();
      const start = performance.now();
      const perTick = Math.max(1, Math.round((o.presenceRatePerSec * TICK_MS) / 1000));
      for (let next = 0; next < sessions; ) {
        const due = Math.min(sessions, Math.floor(((performance.now() - start) * o.presenceRatePerSec) / 1000) + perTick);
        for (; next < due; next++) act(next);
        await sleep(TICK_MS);
      }
      const deadline = performance.now() + DRAIN_MAX_MS;
      while (arrived() < 2 * sessions && performance.now() < deadline) await sleep(5);
      const seconds = (performance.now() - start) / 1000;
      const client = process.cpuUsage(client0);
      const redisSec = cpuSeconds(host.pid) - redis0;
      const counters1 = await host.counters();
      return {
        seconds,
        commands: sum(counters1.calls) - sum(counters0.calls),
        reads: counters1.reads - counters0.reads,
        redisUs: redisSec * 1e6,
        clientUs: client.user + client.system,
      };
    };

    const at = (i: number) => ({ instance: i % INSTANCES.length, room: rooms[i % rooms.length]!, user: `user-${i}` });
    const joined = await phase((i) => {
      const s = at(i);
      driver.join(s.instance, s.room, s.user);
    }, () => events.joined);
    ctx.progress(`${kind}: ${sessions} joins in ${joined.seconds.toFixed(2)} s, ${events.joined} join events`);
    const presenceKeys = async () => {
      const keys: string[] = [];
      const client = backends[0]!.client;
      let cursor = '0';
      do {
        const [next, found] = (await client.call('SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [string, string[]];
        cursor = next;
        keys.push(...found.filter((k) => /:pu$|:pi:[^:]+$|\}:presence$/.test(k)));
      } while (cursor !== '0');
      return keys;
    };
    let memory = 0;
    for (const key of await presenceKeys()) memory += Number(await backends[0]!.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    const left = await phase((i) => {
      const s = at(i);
      driver.leave(s.instance, s.room, s.user);
    }, () => events.left);
    ctx.progress(`${kind}: ${sessions} leaves in ${left.seconds.toFixed(2)} s, ${events.left} leave events`);
    const keysLeft = (await presenceKeys()).length;
    if (failures.length > 0) throw new Error(`${failures.length} presence writes failed; the first: ${String(failures[0])}`);

    const runSec = (performance.now() - runStart) / 1000;
    const machineBusy = (machineCpu().processSec - machineBefore) / runSec;
    const ours = (joined.clientUs + left.clientUs + joined.redisUs + left.redisUs) / 1e6 / runSec;
    return {
      sessions,
      rooms: rooms.length,
      ratePerSec: o.presenceRatePerSec,
      joinSeconds: joined.seconds,
      leaveSeconds: left.seconds,
      joinEvents: events.joined,
      leaveEvents: events.left,
      redisCommandsPerJoin: joined.commands / sessions,
      redisCommandsPerLeave: left.commands / sessions,
      redisReadsPerJoin: joined.reads / sessions,
      redisReadsPerLeave: left.reads / sessions,
      redisUsPerJoin: joined.redisUs / sessions,
      redisUsPerLeave: left.redisUs / sessions,
      clientUsPerJoin: joined.clientUs / sessions,
      clientUsPerLeave: left.clientUs / sessions,
      redisBytesPerMember: memory / sessions,
      keysLeft,
      otherCpuCores: Math.max(0, machineBusy - ours),
      processesStarted: machineCpu().forks - forksBefore,
    };
  } finally {
    for (const backend of backends) {
      await backend.inbox.stop();
      await backend.retire();
      await backend.close();
    }
    try {
      await host.deletePrefix(prefix);
    } finally {
      host.close();
    }
  }
}
