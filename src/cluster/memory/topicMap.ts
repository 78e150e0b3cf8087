/**
 * A value per (app, topic) in memory: one Map per app keyed by the topic string itself, which
 * its subscribers hold already. No `app:topic` key string per topic: in memory mode every
 * subscribed topic has a route, and most per-user topics stay quiet.
 */
export class TopicMap<T> {
  private readonly apps = new Map<string, Map<string, T>>();

  get(app: string, topic: string): T | undefined {
    return this.apps.get(app)?.get(topic);
  }

  set(app: string, topic: string, value: T): void {
    let topics = this.apps.get(app);
    if (!topics) this.apps.set(app, (topics = new Map()));
    topics.set(topic, value);
  }

  delete(app: string, topic: string): void {
    const topics = this.apps.get(app);
    if (topics === undefined) return;
    topics.delete(topic);
    if (topics.size === 0) this.apps.delete(app);
  }

  /** Every (app, topic, value); deleting the current one while iterating is safe. */
  *entries(): Generator<[app: string, topic: string, value: T]> {
    for (const [app, topics] of this.apps) for (const [topic, value] of topics) yield [app, topic, value];
  }
}
