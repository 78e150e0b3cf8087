/**
 * The local hub: the index of this instance's subscriptions. It keeps the topic routes in
 * the cluster in step with local interest (route added with the first local subscriber,
 * removed with the last) and fans inbox messages out through the runtime's native pub/sub,
 * so that a message is encoded once per topic, never once per subscriber.
 */
import type { TopicRoutes } from '../cluster/routes.ts';
import type { TopicMessageEnvelope } from '../protocol/envelope.ts';
import { SerialQueue } from '../lib/serialQueue.ts';
import type { Logger } from '../lib/log.ts';
import { encodeMessage } from './frames.ts';
import type { LocalFanout } from './socket.ts';

/** Messages that arrive for a topic while a session replays its history. */
export interface RecoveryBuffer {
  frames: { offset: string; frame: string }[];
}

/** The runtime topic name for (app, topic). App IDs cannot contain ':', so this is unambiguous. */
export function nativeTopic(app: string, topic: string): string {
  return `${app}:${topic}`;
}

export class Hub {
  private readonly counts = new Map<string, number>();
  private readonly recovering = new Map<string, Set<RecoveryBuffer>>();
  private readonly routeOps = new SerialQueue();
  private fanout: LocalFanout | null = null;
  /** Messages delivered to local topics (one per topic, not per subscriber). */
  deliveredMessages = 0;

  constructor(private readonly instanceId: string, private readonly routes: TopicRoutes, private readonly log: Logger) {}

  attach(fanout: LocalFanout): void {
    this.fanout = fanout;
  }

  /** Number of distinct (app, topic) pairs with local subscribers. */
  get topicCount(): number {
    return this.counts.size;
  }

  /**
   * Counts one more local subscriber; resolves once this instance is in the topic's route
   * (immediately when it already was).
   */
  join(app: string, topic: string): Promise<void> {
    const key = nativeTopic(app, topic);
    const count = this.counts.get(key) ?? 0;
    this.counts.set(key, count + 1);
    if (count === 0) return this.routeOps.run(key, () => this.routes.add(app, topic, this.instanceId));
    return this.routeOps.idle(key);
  }

  /** Counts one subscriber less; the last one out removes the route. */
  leave(app: string, topic: string): void {
    const key = nativeTopic(app, topic);
    const count = this.counts.get(key);
    if (count === undefined) return;
    if (count > 1) {
      this.counts.set(key, count - 1);
      return;
    }
    this.counts.delete(key);
    this.routeOps
      .run(key, () => this.routes.remove(app, topic, this.instanceId))
      .catch((error) => this.log.warn('route remove failed', { app, topic, error }));
  }

  /** Re-adds every local route (after the cluster store lost them, e.g. a Redis restart). */
  async restoreRoutes(): Promise<void> {
    await Promise.all(
      [...this.counts.keys()].map((key) => {
        const sep = key.indexOf(':');
        return this.routes.add(key.slice(0, sep), key.slice(sep + 1), this.instanceId);
      }),
    );
  }

  startRecovery(app: string, topic: string): RecoveryBuffer {
    const key = nativeTopic(app, topic);
    const buffer: RecoveryBuffer = { frames: [] };
    let set = this.recovering.get(key);
    if (!set) {
      set = new Set();
      this.recovering.set(key, set);
    }
    set.add(buffer);
    return buffer;
  }

  endRecovery(app: string, topic: string, buffer: RecoveryBuffer): void {
    const key = nativeTopic(app, topic);
    const set = this.recovering.get(key);
    if (!set) return;
    set.delete(buffer);
    if (set.size === 0) this.recovering.delete(key);
  }

  deliver(envelope: TopicMessageEnvelope): void {
    const key = nativeTopic(envelope.app, envelope.topic);
    if (!this.counts.has(key)) return;
    const frame = encodeMessage(envelope.topic, envelope.offset, envelope.data);
    const buffers = this.recovering.get(key);
    if (buffers) for (const b of buffers) b.frames.push({ offset: envelope.offset, frame });
    this.fanout?.publish(key, frame);
    this.deliveredMessages += 1;
  }
}
