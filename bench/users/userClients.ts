/**
 * WebSocket sessions of demo-app users for the users scenarios, held in this process: each
 * signs its token with the demo app's public secret and opens once the welcome came.
 */
import { sign } from 'hono/jwt';

/** The demo app's public secret (src/config.ts). */
export const DEMO_SECRET = 'demo-secret-not-for-production';

export interface UserSocket {
  readonly ws: WebSocket;
  /** The welcome frame. */
  readonly welcome: Record<string, unknown>;
}

/** Opens a session of `user` at `wsUrl` (…/ws?app=demo); `onFrame` gets every frame after the welcome. */
export async function openUser(wsUrl: string, user: string, onFrame: (frame: Record<string, unknown>) => void): Promise<UserSocket> {
  const token = await sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 3600 }, DEMO_SECRET, 'HS256');
  const ws = new WebSocket(`${wsUrl}&token=${token}`);
  const welcome = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no welcome for ${user} within 10 s`)), 10_000);
    let welcomed = false;
    ws.addEventListener('message', (e) => {
      const frame = JSON.parse(String(e.data)) as Record<string, unknown>;
      if (!welcomed) {
        welcomed = true;
        clearTimeout(timer);
        if (frame.type === 'welcome') resolve(frame);
        else reject(new Error(`refused: ${JSON.stringify(frame)}`));
        return;
      }
      onFrame(frame);
    });
    ws.addEventListener('error', () => reject(new Error(`cannot connect ${user}`)), { once: true });
  });
  return { ws, welcome };
}

/** Opens `count` sessions, `concurrency` at a time. */
export async function openUsers(count: number, concurrency: number, open: (i: number) => Promise<UserSocket>): Promise<UserSocket[]> {
  const out: UserSocket[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await open(i);
      }
    }),
  );
  return out;
}
