/**
 * In-memory Inbox: envelopes go straight to the target instance's handler, or wait in its
 * backlog while nobody reads. Like the Redis inbox, an instance's inbox exists from its
 * ensure()/start() until it retires: envelopes for an instance without one are reported
 * missing and not kept (SessionDelivery then asks the session directory).
 */
import type { Addressed, EnvelopeHandler, Inbox, InboxStats } from '../inbox.ts';
import type { MemoryCluster } from './memoryBackend.ts';

export class MemoryInbox implements Inbox {
  constructor(private readonly cluster: MemoryCluster, private readonly instanceId: string) {}

  send(batch: readonly Addressed[]): Promise<string[]> {
    return this.cluster.send(batch);
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

  /** Envelopes go to the handler at once: only a backlog while nobody reads. */
  async stats(): Promise<InboxStats> {
    return { pending: 0, lag: this.cluster.inboxes.get(this.instanceId)?.backlog.length ?? 0 };
  }

  async stop(): Promise<void> {
    const state = this.cluster.inboxes.get(this.instanceId);
    if (state) state.handler = null;
  }
}
