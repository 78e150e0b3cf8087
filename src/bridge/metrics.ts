/** The bridge's counters, exposed in the Prometheus text format at /metrics. */
export class BridgeMetrics {
  stored = 0;
  repliesRouted = 0;
  /** Replies for sessions nobody owns any more (closed for good, or resume window passed). */
  repliesOrphaned = 0;
  private readonly dead = new Map<string, number>();

  deadLettered(reason: string): void {
    this.dead.set(reason, (this.dead.get(reason) ?? 0) + 1);
  }

  render(extra: Record<string, number>): string {
    const lines = [
      '# HELP switchyard_bridge_updates_stored_total Updates stored in history and routed to inboxes.',
      '# TYPE switchyard_bridge_updates_stored_total counter',
      `switchyard_bridge_updates_stored_total ${this.stored}`,
      '# HELP switchyard_bridge_dead_lettered_total Messages moved to the dead-letter queue, by reason.',
      '# TYPE switchyard_bridge_dead_lettered_total counter',
      ...[...this.dead].map(([reason, n]) => `switchyard_bridge_dead_lettered_total{reason="${reason}"} ${n}`),
      '# HELP switchyard_bridge_replies_routed_total Job replies appended to the inbox of their session.',
      '# TYPE switchyard_bridge_replies_routed_total counter',
      `switchyard_bridge_replies_routed_total ${this.repliesRouted}`,
      '# HELP switchyard_bridge_replies_orphaned_total Job replies for sessions that are gone.',
      '# TYPE switchyard_bridge_replies_orphaned_total counter',
      `switchyard_bridge_replies_orphaned_total ${this.repliesOrphaned}`,
    ];
    for (const [name, value] of Object.entries(extra)) lines.push(`# TYPE ${name} gauge`, `${name} ${value}`);
    return lines.join('\n') + '\n';
  }
}
