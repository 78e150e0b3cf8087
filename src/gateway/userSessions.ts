/**
 * The users of the sessions connected here: a local index (app, user) -> sessions, kept in
 * step with the cluster's user registry. A session of a user joins the registry before its
 * welcome (refused over the app's `maxSessionsPerUser`) and leaves it when it closes; after a
 * store that lost this instance's state, the counts are put back (restore). Direct envelopes
 * from the inbox are encoded once and handed to every local session of their user.
 */
import type { UserRegistry } from '../cluster/users.ts';
import type { DirectEnvelope } from '../protocol/envelope.ts';
import type { Logger } from '../lib/log.ts';
import { encodeDirectFrame } from './frames.ts';
import type { Session } from './session.ts';

/** `app \0 user`: neither contains NUL. */
function userKey(app: string, user: string): string {
  return `${app}\u0000${user}`;
}

export class UserSessions {
  private readonly byUser = new Map<string, Set<Session>>();
  /** Per session of a user, its registration: true once counted, false when refused or failed. */
  private readonly joined = new Map<Session, Promise<boolean>>();

  constructor(
    private readonly instanceId: string,
    private readonly registry: UserRegistry,
    private readonly log: Logger,
  ) {}

  /**
   * Counts the session in the user registry (within the app's `maxSessionsPerUser`) and, once
   * counted, indexes it here: from then on direct envelopes for its user reach it. False: the
   * user has too many sessions. Rejects when the store failed.
   */
  join(session: Session): Promise<boolean> {
    const user = session.userId!;
    const app = session.app;
    const joined = this.registry.add(app.id, user, this.instanceId, app.maxSessionsPerUser).then((counted) => {
      if (counted && !session.isClosed) {
        const key = userKey(app.id, user);
        let sessions = this.byUser.get(key);
        if (!sessions) this.byUser.set(key, (sessions = new Set()));
        sessions.add(session);
      }
      return counted;
    });
    this.joined.set(session, joined.catch(() => false));
    return joined;
  }

  /** The session closed: it leaves the index, and the registry once its registration settled. */
  leave(session: Session): void {
    const joined = this.joined.get(session);
    if (!joined) return;
    this.joined.delete(session);
    const user = session.userId!;
    const key = userKey(session.app.id, user);
    const sessions = this.byUser.get(key);
    if (sessions?.delete(session) && sessions.size === 0) this.byUser.delete(key);
    void joined.then(async (counted) => {
      if (!counted) return;
      try {
        await this.registry.remove(session.app.id, user, this.instanceId);
      } catch (error) {
        // The count stays until this instance retires or is reaped; a user may be shown online meanwhile.
        this.log.warn('user registry: removing a session failed', { user, error });
      }
    });
  }

  /** A direct message for sessions here: encoded once, handed to each session of its user. */
  deliver(envelope: DirectEnvelope): void {
    const sessions = this.byUser.get(userKey(envelope.app, envelope.user));
    if (!sessions) return;
    const frame = encodeDirectFrame(envelope.messageId, envelope.from, envelope.data);
    for (const session of sessions) session.deliverDirect(envelope, frame);
  }

  /** Puts this instance's counts back in a store that lost them (see Membership). */
  async restore(): Promise<void> {
    const counts = [...this.byUser.values()].map((sessions) => {
      const first = sessions.values().next().value!;
      return { app: first.app.id, user: first.userId!, sessions: sessions.size };
    });
    if (counts.length > 0) await this.registry.restore(this.instanceId, counts);
  }
}
