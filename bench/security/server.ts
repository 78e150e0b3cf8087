/**
 * The Switchyard process of the security scenarios: in-memory mode like the single-instance
 * family's, but serving one app whose client tokens are verified (an HS256 secret and an
 * ES256 public key), and the tokens the scenarios connect with, signed here with `jose` as an
 * app's backend would.
 */
import type { Subprocess } from 'bun';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { stopChild, track } from '../children.ts';
import { environment, freePort, waitReady, type RunningServer } from '../servers.ts';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
export const BENCH_APP = 'bench';
const SECRET = 'bench-secret-0123456789abcdef';

export interface TokenFactory {
  hs256(claims?: Record<string, unknown>): Promise<string>;
  es256(claims?: Record<string, unknown>): Promise<string>;
}

/** An ES256 key pair made for this run, and the APPS value that trusts it. */
async function keys(): Promise<{ apps: string; tokens: TokenFactory }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const apps = JSON.stringify([{ id: BENCH_APP, secrets: [SECRET], publicKeys: [await exportSPKI(publicKey)], apiKeys: [SECRET] }]);
  const claims = (extra: Record<string, unknown>) => ({ sub: 'bench-user', ...extra });
  const now = () => Math.floor(Date.now() / 1000);
  return {
    apps,
    tokens: {
      hs256: (extra = {}) =>
        new SignJWT(claims(extra)).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(now()).setExpirationTime(now() + 3600).sign(new TextEncoder().encode(SECRET)),
      es256: (extra = {}) => new SignJWT(claims(extra)).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).setIssuedAt(now()).setExpirationTime(now() + 3600).sign(privateKey),
    },
  };
}

/** Runs `fn` against a fresh Switchyard process serving the bench app, and stops it afterwards. */
export async function withSecuredServer<T>(logPath: string, vars: Record<string, string>, fn: (server: RunningServer, tokens: TokenFactory) => Promise<T>): Promise<T> {
  const { apps, tokens } = await keys();
  const port = freePort();
  const proc: Subprocess = Bun.spawn({
    cmd: [process.execPath, 'src/main/gateway.ts'],
    cwd: REPO_ROOT,
    env: { ...environment(port), APPS: apps, ...vars },
    stdio: ['ignore', Bun.file(logPath), 'inherit'],
  });
  track('switchyard', proc);
  const server: RunningServer = {
    kind: 'switchyard',
    pid: proc.pid,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws?app=${BENCH_APP}`,
    assertAlive: () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`switchyard (pid ${proc.pid}) exited; see ${logPath}`);
    },
    stop: () => stopChild(proc, 5000),
  };
  try {
    await waitReady(proc, port, logPath);
    return await fn(server, tokens);
  } finally {
    await server.stop();
  }
}
