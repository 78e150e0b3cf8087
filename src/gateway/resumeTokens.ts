/**
 * Resume tokens over a session's life. A token is valid for RESUME_WINDOW_MS from its issue
 * (the expiry is inside its MAC, see Apps.resumeToken); the welcome carries the first, and
 * while a session has jobs running it gets a fresh one in a `resumeToken` frame every quarter
 * of the window. So at a disconnect the latest token still has at least three quarters of the
 * window left (less one sweep), and it never outlives the window in which the instance keeps
 * the session's jobs after the disconnect: a late resume gets a fresh session, never a
 * session whose replies are gone.
 */
import type { AppConfig } from '../config.ts';
import type { Apps } from './auth.ts';
import { encodeResumeToken } from './frames.ts';
import type { Session } from './session.ts';

export class ResumeTokens {
  /** When each session with jobs running is due for a fresh token (sessions without jobs are not listed). */
  private readonly due = new WeakMap<Session, number>();
  private readonly refreshEveryMs: number;

  constructor(
    private readonly apps: Apps,
    private readonly windowMs: number,
  ) {
    this.refreshEveryMs = windowMs / 4;
  }

  /** The token for a welcome: valid for the resume window from now. */
  issue(app: AppConfig, userId: string | null, sessionId: string, nowMs = Date.now()): string {
    return this.apps.resumeToken(app, userId, sessionId, nowMs + this.windowMs);
  }

  /**
   * Sends a fresh token to every session that has jobs running and is due. A session is due
   * the first time it is seen with jobs (its welcome may be older than the window), then
   * every quarter window. Called from the gateway's sweep.
   */
  refresh(sessions: Iterable<Session>, nowMs = Date.now()): void {
    if (this.windowMs === 0) return;
    for (const session of sessions) {
      if (session.pendingJobs === 0 || (this.due.get(session) ?? 0) > nowMs) continue;
      this.due.set(session, nowMs + this.refreshEveryMs);
      session.send(encodeResumeToken(this.issue(session.app, session.userId, session.id, nowMs)));
    }
  }
}
