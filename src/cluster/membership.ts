/**
 * This instance's membership of the cluster: it heartbeats into the instance registry, puts
 * its state back when the store lost it (a Redis restart, or being reaped while paused), and
 * answers which instances are live (for /api/instances and the dashboard, whose figures each
 * instance writes into its entry at each heartbeat; the hash ring reads the same list).
 *
 * Lifecycle: start() registers (the first heartbeat) and starts the heartbeat timer; stop()
 * ends both, and from then on nothing writes the registry again, even when a reply to an
 * earlier heartbeat or a store reconnect comes late: the instance is about to retire.
 */
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import type { ClusterBackend } from './backend.ts';
import type { InstanceInfo } from './registry.ts';

export interface MembershipOptions {
  instanceId: string;
  region: string;
  /** How often the registry entry is refreshed. */
  heartbeatIntervalMs: number;
}

/** What this instance tells the registry about itself at each heartbeat. */
export interface SelfDescription {
  /** host:port where the instance accepts connections. */
  address: string;
  sessions: number;
  /** Figures for the dashboard: any instance shows every instance's from the registry. */
  stats?: InstanceInfo['stats'];
}

export class Membership implements Service {
  private readonly startedAtMs = Date.now();
  private timer: ReturnType<typeof setInterval> | null = null;
  private beating = false;
  private registered = false;
  private stopped = false;
  /** Set from a store reconnect until the heartbeat has shown whether the store kept this instance's state. */
  private restoring = false;

  constructor(
    private readonly backend: Pick<ClusterBackend, 'registry' | 'inbox' | 'onRestored'>,
    private readonly options: MembershipOptions,
    private readonly describe: () => SelfDescription,
    /**
     * Puts back what a store that lost this instance no longer has, after the inbox: the
     * instance's topic routes (and the catch-up of what was published while they were gone).
     */
    private readonly restore: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Registers; resolves after the first heartbeat (which may have failed: it is retried). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.heartbeat();
    if (this.stopped) return;
    this.backend.onRestored(() => {
      if (this.stopped) return;
      // Not ready until the heartbeat has shown whether the store kept this instance's state.
      this.restoring = true;
      void this.heartbeat(true);
    });
    this.timer = setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** True while the instance puts its state back after a store reconnect (not ready meanwhile). */
  get isRestoring(): boolean {
    return this.restoring;
  }

  live(): Promise<InstanceInfo[]> {
    return this.backend.registry.live();
  }

  /**
   * Refreshes the registry entry. If the entry had vanished (the store restarted, or this
   * instance was taken for dead), the inbox and the routes are restored: without them no
   * publish would reach this instance's sessions.
   */
  private async heartbeat(afterReconnect = false): Promise<void> {
    if (this.stopped) return;
    if (this.beating) {
      // A reconnect during a heartbeat must still get its own check.
      if (afterReconnect) setTimeout(() => void this.heartbeat(true), 50);
      return;
    }
    this.beating = true;
    try {
      const { address, sessions, stats } = this.describe();
      const known = await this.backend.registry.heartbeat({
        id: this.options.instanceId,
        region: this.options.region,
        address,
        sessions,
        startedAtMs: this.startedAtMs,
        heartbeatAtMs: Date.now(),
        ...(stats ? { stats } : {}),
      });
      // A heartbeat answered after stop() began restores nothing: the instance retires.
      if (this.stopped) return;
      if (!known && this.registered) {
        this.log.warn('registry entry was lost; restoring inbox and routes');
        // Inbox first: a route pointing at a missing inbox would drop envelopes (NOMKSTREAM).
        await this.backend.inbox.ensure();
        await this.restore();
      }
      this.registered = true;
      if (afterReconnect) this.restoring = false;
    } catch (error) {
      this.log.warn('heartbeat failed', { error });
      if (afterReconnect && !this.stopped) setTimeout(() => void this.heartbeat(true), 200);
    } finally {
      this.beating = false;
    }
  }
}
