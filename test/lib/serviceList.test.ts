/** ServiceList and stopInOrder: reverse order, bounded steps, failures logged and passed over. */
import { expect, test } from 'bun:test';
import { createLogger, type Fields } from '../../src/lib/log.ts';
import type { Service } from '../../src/lib/service.ts';
import { ServiceList, stopInOrder, StoppingError } from '../../src/lib/serviceList.ts';

function capture(): { log: ReturnType<typeof createLogger>; lines: Fields[] } {
  const lines: Fields[] = [];
  return { log: createLogger('debug', {}, (line) => lines.push(JSON.parse(line) as Fields)), lines };
}

/** A service that records its start and stop calls in `events`. */
function recorder(name: string, events: string[], behaviour: { start?: () => Promise<void>; stop?: () => Promise<void> | void } = {}): Service {
  return {
    start: async () => {
      events.push(`start ${name}`);
      await behaviour.start?.();
    },
    stop: async () => {
      events.push(`stop ${name}`);
      await behaviour.stop?.();
    },
  };
}

const never = () => new Promise<void>(() => {});

test('services stop in reverse start order', async () => {
  const { log } = capture();
  const events: string[] = [];
  const list = new ServiceList(log);
  for (const name of ['redis', 'amqp', 'gateway']) await list.start(name, recorder(name, events), 1000);
  const outcomes = await list.stop();
  expect(events).toEqual(['start redis', 'start amqp', 'start gateway', 'stop gateway', 'stop amqp', 'stop redis']);
  expect(outcomes.map((o) => [o.name, o.result])).toEqual([
    ['gateway', 'stopped'],
    ['amqp', 'stopped'],
    ['redis', 'stopped'],
  ]);
});

test('a step that never ends is abandoned after its timeout, logged, and the next step runs', async () => {
  const { log, lines } = capture();
  const events: string[] = [];
  const outcomes = await stopInOrder(
    [
      { name: 'hangs', timeoutMs: 30, stop: () => never() },
      { name: 'after', timeoutMs: 1000, stop: () => void events.push('after') },
    ],
    log,
  );
  expect(outcomes.map((o) => [o.name, o.result])).toEqual([
    ['hangs', 'timed out'],
    ['after', 'stopped'],
  ]);
  expect(events).toEqual(['after']);
  const warning = lines.find((l) => l.msg === 'stop step timed out; going on');
  expect(warning).toMatchObject({ level: 'warn', step: 'hangs', timeoutMs: 30 });
});

test('a step that throws or rejects is logged with its error, and the next step runs', async () => {
  const { log, lines } = capture();
  const outcomes = await stopInOrder(
    [
      {
        name: 'throws',
        timeoutMs: 1000,
        stop: () => {
          throw new Error('sync failure');
        },
      },
      { name: 'rejects', timeoutMs: 1000, stop: () => Promise.reject(new Error('async failure')) },
      { name: 'fine', timeoutMs: 1000, stop: () => {} },
    ],
    log,
  );
  expect(outcomes.map((o) => o.result)).toEqual(['failed', 'failed', 'stopped']);
  const failures = lines.filter((l) => l.msg === 'stop step failed; going on');
  expect(failures.map((l) => [l.step, (l.error as { message: string }).message])).toEqual([
    ['throws', 'sync failure'],
    ['rejects', 'async failure'],
  ]);
  // Every step is announced before it runs, so a log shows where a stop stood.
  expect(lines.filter((l) => l.msg === 'stopping').map((l) => l.step)).toEqual(['throws', 'rejects', 'fine']);
});

test('a service whose start fails is stopped too (it may have started half-way)', async () => {
  const { log } = capture();
  const events: string[] = [];
  const list = new ServiceList(log);
  await list.start('redis', recorder('redis', events), 1000);
  const failing = recorder('gateway', events, { start: () => Promise.reject(new Error('port in use')) });
  await expect(list.start('gateway', failing, 1000)).rejects.toThrow('port in use');
  await list.stop();
  expect(events).toEqual(['start redis', 'start gateway', 'stop gateway', 'stop redis']);
});

test('stop() during a start stops that service too, and nothing starts afterwards', async () => {
  const { log } = capture();
  const events: string[] = [];
  const list = new ServiceList(log);
  let finishStart = () => {};
  const slow = recorder('redis', events, { start: () => new Promise<void>((resolve) => (finishStart = resolve)) });
  const starting = list.start('redis', slow, 1000);
  const outcomes = await list.stop();
  expect(outcomes.map((o) => [o.name, o.result])).toEqual([['redis', 'stopped']]);
  finishStart();
  await expect(starting).rejects.toBeInstanceOf(StoppingError);
  await expect(list.start('amqp', recorder('amqp', events), 1000)).rejects.toBeInstanceOf(StoppingError);
  expect(events).toEqual(['start redis', 'stop redis']);
  expect(list.isStopping).toBe(true);
});

test('stop() twice stops each service once and answers the same outcomes', async () => {
  const { log } = capture();
  const events: string[] = [];
  const list = new ServiceList(log);
  await list.start('a', recorder('a', events), 1000);
  const [first, second] = await Promise.all([list.stop(), list.stop()]);
  expect(second).toBe(first);
  expect(events).toEqual(['start a', 'stop a']);
});
