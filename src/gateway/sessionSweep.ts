/**
 * The periodic pass over this instance's sessions: closes the ones that cannot keep up
 * (4001) and the ones whose token expired without a refresh (4003), and hands fresh resume
 * tokens to the ones with jobs running (see ResumeTokens).
 */
import { CloseCode } from '../protocol/codes.ts';
import type { Logger } from '../lib/log.ts';
import type { Service } from '../lib/service.ts';
import type { ResumeTokens } from './resumeTokens.ts';
import type { Session } from './session.ts';

/** One getBufferedAmount() call per session this often: about 40 µs per 1,000 sessions. */
const SWEEP_INTERVAL_MS = 250;

export class SessionSweep implements Service {
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly sessions: Iterable<Session>,
    /** Bytes queued towards one client past which it is closed with 4001. */
    private readonly sendBufferLimitBytes: number,
    private readonly resumeTokens: ResumeTokens,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.timer ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private sweep(): void {
    this.disconnectSlowConsumers();
    this.disconnectExpired();
    this.resumeTokens.refresh(this.sessions);
  }

  /**
   * Closes sessions whose token expired (its `exp` plus the clock skew, the moment a new
   * connection with it is refused) with 4003, within one sweep interval of it. A comparison
   * per session: no timer per session.
   */
  private disconnectExpired(nowMs = Date.now()): void {
    for (const session of this.sessions) {
      const expiresAtMs = session.expiresAtMs;
      if (expiresAtMs !== null && expiresAtMs <= nowMs) {
        this.log.info('session token expired', { session: session.id });
        session.disconnect(CloseCode.TokenExpired, 'token expired; get a new token and reconnect');
      }
    }
  }

  /**
   * Closes sessions whose send buffer is past SEND_BUFFER_LIMIT_BYTES with 4001, so that the
   * client learns why and resumes elsewhere. A client flooded past twice the limit between
   * two sweeps is cut by the runtime without a close frame (1006 at the client), which
   * beats dropping messages silently.
   */
  private disconnectSlowConsumers(): void {
    for (const session of this.sessions) {
      if (session.bufferedBytes > this.sendBufferLimitBytes) {
        this.log.info('slow consumer disconnected', { session: session.id, bufferedBytes: session.bufferedBytes });
        session.disconnect(CloseCode.SlowConsumer, 'too slow; reconnect and resume');
      }
    }
  }
}
