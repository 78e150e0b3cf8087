/**
 * Hash routing (ROUTING=hash): which instance is a room's home, and what to do when a
 * connection lands elsewhere or the ring changes.
 *
 * - The ring is built from the live instances in the registry, refreshed every heartbeat. An
 *   instance that stopped heartbeating for two intervals (draining, or dead) leaves the ring
 *   here before the reaper removes it, so that new connections stop going to it.
 * - An upgrade naming a room whose home is another instance is answered before the WebSocket
 *   opens (see app.ts): HTTP 421 with `fly-replay: instance=<id>` (Fly's proxy replays the
 *   request to that machine) and the home's URL in a header and the JSON body, for a client or
 *   another proxy.
 * - When the ring changes, the local sessions whose room now lives elsewhere are told to
 *   reconnect (4008) spread over REBALANCE_WINDOW_MS, not all at once; only the rooms that
 *   must move do (see cluster/ring.ts).
 */
import { HashRing } from '../cluster/ring.ts';
import type { InstanceInfo } from '../cluster/registry.ts';
import { CloseCode } from '../protocol/codes.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import type { Session } from './session.ts';

export interface PlacementOptions {
  instanceId: string;
  /** How often the live instances are read again (the heartbeat interval). */
  refreshIntervalMs: number;
  /** Moved sessions are told to reconnect spread over this long. */
  rebalanceWindowMs: number;
}

export interface Home {
  instanceId: string;
  /** WebSocket URL of the home instance, from its registry address. */
  url: string;
}

/** Ticks per rebalance window: sessions are closed in this many slices. */
const REBALANCE_SLICES = 20;

export class Placement implements Service {
  private ring: HashRing | null = null;
  private addresses = new Map<string, string>();
  /** Local sessions that named a room, with it. */
  private readonly rooms = new Map<Session, string>();
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private moving: Session[] = [];
  private moveTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly options: PlacementOptions,
    private readonly live: () => Promise<InstanceInfo[]>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.moveTimer) clearInterval(this.moveTimer);
    this.refreshTimer = this.moveTimer = null;
    this.moving = [];
  }

  /** The room's home when it is another instance; null when it is this one (or nothing is known yet). */
  misdirected(room: string): Home | null {
    const home = this.ring?.home(room) ?? null;
    if (home === null || home === this.options.instanceId) return null;
    return { instanceId: home, url: `ws://${this.addresses.get(home) ?? ''}/ws` };
  }

  /** A session opened here for a room (its home was this instance when it connected). */
  track(session: Session, room: string): void {
    this.rooms.set(session, room);
  }

  untrack(session: Session): void {
    this.rooms.delete(session);
  }

  private async refresh(): Promise<void> {
    let instances: InstanceInfo[];
    try {
      instances = await this.live();
    } catch (error) {
      this.log.warn('placement: reading the live instances failed', { error });
      return;
    }
    const freshSince = Date.now() - 2 * this.options.refreshIntervalMs;
    const current = instances.filter((i) => i.heartbeatAtMs >= freshSince || i.id === this.options.instanceId);
    const ids = current.map((i) => i.id);
    if (!ids.includes(this.options.instanceId)) ids.push(this.options.instanceId);
    this.addresses = new Map(current.map((i) => [i.id, i.address]));
    if (this.ring?.sameMembers(ids)) return;
    const first = this.ring === null;
    this.ring = new HashRing(ids);
    if (first) return;
    this.log.info('placement: the ring changed', { instances: ids.length });
    this.rebalance();
  }

  /** Queues the sessions whose room moved away, and closes them in slices over the window. */
  private rebalance(): void {
    const queued = new Set(this.moving);
    for (const [session, room] of this.rooms) {
      if (this.misdirected(room) !== null && !queued.has(session)) this.moving.push(session);
    }
    if (this.moving.length === 0 || this.moveTimer) return;
    const tickMs = Math.max(10, Math.floor(this.options.rebalanceWindowMs / REBALANCE_SLICES));
    const perTick = Math.max(1, Math.ceil(this.moving.length / REBALANCE_SLICES));
    this.log.info('placement: moving sessions to their rooms\u2019 new homes', { sessions: this.moving.length, windowMs: this.options.rebalanceWindowMs });
    this.moveTimer = setInterval(() => {
      for (const session of this.moving.splice(0, perTick)) {
        const room = this.rooms.get(session);
        // Gone meanwhile, or its room came back here: nothing to do.
        if (room === undefined || this.misdirected(room) === null) continue;
        session.disconnect(CloseCode.RoomMoved, 'room moved to another instance; reconnect');
      }
      if (this.moving.length === 0 && this.moveTimer) {
        clearInterval(this.moveTimer);
        this.moveTimer = null;
      }
    }, tickMs);
  }
}
