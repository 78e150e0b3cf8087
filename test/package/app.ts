// Type-checked (not run) in the app of test/package/package.test.ts: the declarations of the
// package entry points resolve by name and carry the SDK's types.
import { SwitchyardClient, RequestError, type Message, type DirectMessage, type TopicPresence } from 'switchyard/client';
import { createWorker, type JobContext } from 'switchyard/worker';

export async function use(client: SwitchyardClient): Promise<string> {
  const stop = await client.subscribe('a', 'b', (m: Message) => void m.offset);
  client.on('direct', (m: DirectMessage) => void m.messageId);
  const presence: TopicPresence = await client.presence('room:1');
  const offset: string = await client.publish('a', new Uint8Array([1]));
  await stop();
  const worker = await createWorker({ url: 'amqp://x', methods: { m: (params: unknown, ctx: JobContext) => [params, ctx.jobId] } });
  await worker.stop();
  return `${offset} ${presence.count} ${new RequestError('x', 'y').code}`;
}
