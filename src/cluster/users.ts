/**
 * User registry: which instances hold sessions of a user (app, user), and how many. It
 * answers two questions and no more:
 *
 * - **where** a direct message goes (precise delivery: the inboxes of these instances only);
 * - **whether** a user is online, and with how many sessions (user status, the per-user
 *   session quota).
 *
 * It stays true after a crash: an instance's entries are removed when it retires, and by the
 * reaper when it dies without a goodbye (within INSTANCE_TTL_MS plus two heartbeats, with its
 * routes). Until then the dead instance's sessions still count.
 *
 * In Redis a user's entry lives in the slot of the user's inbox (`{u:<app>:<user>}`), so that
 * the send script reads it atomically after appending to the inbox (see UserInbox.send).
 * Topic presence may build on it; it keeps no topics itself.
 */

/** Sessions of one user on one instance (restore after the store lost them). */
export interface UserCount {
  app: string;
  user: string;
  sessions: number;
}

export interface UserRegistry {
  /**
   * One more session of the user on `instanceId`. With `limit`, refused (false, nothing
   * recorded) when the user already has `limit` sessions in the cluster; the check and the
   * count are one atomic step per user.
   */
  add(app: string, user: string, instanceId: string, limit?: number): Promise<boolean>;
  /** One session fewer; the instance's entry goes when it reaches zero. */
  remove(app: string, user: string, instanceId: string): Promise<void>;
  /** Instance ID -> sessions of the user there (empty: offline). */
  locate(app: string, user: string): Promise<Map<string, number>>;
  /** Per user asked about, its sessions in the cluster (0: offline). Keys are the users given. */
  count(app: string, users: readonly string[]): Promise<Map<string, number>>;
  /** Sets an instance's counts (not increments) after the store lost them. */
  restore(instanceId: string, counts: readonly UserCount[]): Promise<void>;
  /** Removes every entry of an instance (it retired, or died); resolves with how many users it had. */
  removeInstance(instanceId: string): Promise<number>;
}
