/**
 * In-memory Inbox: envelopes go straight to the target instance's handler, or wait in its
 * backlog while nobody reads. Like the Redis inbox, an instance's inbox exists from its
 * ensure()/start() until it retires: envelopes for an instance without one are reported
 * missing and not kept (SessionDelivery then asks the session directory).
 */
import type { Addressed, EnvelopeHandler, Inbox } from '../inbox.ts';
import type { MemoryCluster } from './memoryBackend.ts';

export class MemoryInbox implements Inbox {
  constructor(private readonly cluster: MemoryCluster, private readonly instanceId: string) {}

  async send(batch: readonly Addressed[]): Promise<string[]> {
    const missing: string[] = [];
    for (const { instanceId, envelope } of batch) {
      const state = this.cluster.inboxes.get(instanceId);
      if (!state) {
        missing.push(instanceId);
        continue;
      }
      if (!state.handler) {
        state.backlog.push(envelope);
        continue;
      }
      try {
        await state.handler([envelope]);
      } catch (error) {
        // As in Redis: a handler bug is the reader's problem, never the sender's.
        this.cluster.log.error('inbox handler failed', { instance: instanceId, error });
      }
    }
    return missing;
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    const state = this.cluster.inboxState(this.instanceId);
    state.handler = handler;
    const backlog = state.backlog.splice(0);
    if (backlog.length > 0) await handler(backlog);
  }

  async ensure(): Promise<void> {
    this.cluster.inboxState(this.instanceId);
  }

  async stop(): Promise<void> {
    const state = this.cluster.inboxes.get(this.instanceId);
    if (state) state.handler = null;
  }
}
