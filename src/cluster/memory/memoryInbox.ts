/** In-memory Inbox: envelopes go straight to the target instance's handler, or wait in its backlog. */
import type { Addressed, EnvelopeHandler, Inbox } from '../inbox.ts';
import type { MemoryCluster } from './memoryBackend.ts';

export class MemoryInbox implements Inbox {
  constructor(private readonly cluster: MemoryCluster, private readonly instanceId: string) {}

  /** In memory an inbox is made on first use (it may be read later), so none is ever missing. */
  async send(batch: readonly Addressed[]): Promise<string[]> {
    for (const { instanceId, envelope } of batch) {
      const state = this.cluster.inboxState(instanceId);
      if (state.handler) await state.handler([envelope]);
      else state.backlog.push(envelope);
    }
    return [];
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
    this.cluster.inboxState(this.instanceId).handler = null;
  }
}
