/**
 * Starts a gateway inside the test process on a free port, on a fresh backend of the named
 * kind (test/support/backends.ts) or on a given one, and stops it afterwards.
 */
import { afterAll, beforeAll } from 'bun:test';
import { loadConfig, type Config } from '../../src/config.ts';
import type { ClusterBackend } from '../../src/cluster/backend.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { createBackend, type BackendName, type TestBackend } from './backends.ts';
import { WsClient } from './wsClient.ts';

export const APP_A = { id: 'app-a', secret: 'secret-of-app-a-0123456789', allowAnonymous: true, allowClientPublish: true };
export const APP_B = { id: 'app-b', secret: 'secret-of-app-b-0123456789', allowAnonymous: true, allowClientPublish: true };
/** Server-side publish only, tokens required. */
export const APP_STRICT = { id: 'strict', secret: 'secret-of-strict-0123456789' };

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  /** The backend the gateway was started on (before `wrap`, when one was given). */
  backend: ClusterBackend;
  /** http://127.0.0.1:port */
  http: string;
  /** ws://127.0.0.1:port/ws?app=<app> */
  wsUrl(app: string, token?: string): string;
  /** Stops the gateway, closes the backend and, for a backend made here, deletes its keys. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** What the gateway sees instead of the backend: to interpose on one of its parts. */
  wrap?: (backend: ClusterBackend) => ClusterBackend;
}

/**
 * `backend`: a kind, for a fresh backend that this gateway owns; or a backend the caller
 * made (shared by several gateways, or with options of its own), whose keys are the caller's.
 */
export async function startGateway(backend: BackendName | ClusterBackend, env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestGateway> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    APPS: JSON.stringify([APP_A, APP_B, APP_STRICT]),
    DRAIN_TIMEOUT_MS: '2000',
    ...env,
  });
  const made: TestBackend = typeof backend === 'string' ? await createBackend(backend, config) : { backend, cleanup: async () => {} };
  const cluster = made.backend;
  const gateway = new Gateway(config, options.wrap ? options.wrap(cluster) : cluster, silentLogger);
  const stop = async () => {
    try {
      await gateway.stop();
      await cluster.close();
    } finally {
      await made.cleanup();
    }
  };
  // As src/main/gateway.ts does: the backend starts before the gateway and closes after it.
  try {
    await cluster.start();
    await gateway.start();
  } catch (error) {
    await stop();
    throw error;
  }
  const http = `http://127.0.0.1:${gateway.port}`;
  return {
    gateway,
    config,
    backend: cluster,
    http,
    wsUrl: (app, token) => `ws://127.0.0.1:${gateway.port}/ws?app=${encodeURIComponent(app)}${token ? `&token=${encodeURIComponent(token)}` : ''}`,
    stop,
  };
}

/** POST /api/apps/:app/publish with the app's secret. */
export async function publishHttp(http: string, app: { id: string; secret: string }, topic: string, data: unknown): Promise<string> {
  const res = await fetch(`${http}/api/apps/${app.id}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ topic, data }),
  });
  if (!res.ok) throw new Error(`publish failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { offset: string }).offset;
}

/**
 * A gateway for a whole describe block (or test file): started before its tests, stopped
 * after them together with every client opened through `open()`.
 */
export function useGateway(backend: BackendName, env: Record<string, string> = {}): { readonly gw: TestGateway; open(url?: string): Promise<WsClient> } {
  let gw: TestGateway | null = null;
  const clients: WsClient[] = [];
  beforeAll(async () => {
    gw = await startGateway(backend, env);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });
  return {
    get gw() {
      if (!gw) throw new Error('useGateway: the gateway starts in beforeAll');
      return gw;
    },
    async open(url) {
      const c = await WsClient.open(url ?? this.gw.wsUrl(APP_A.id));
      clients.push(c);
      return c;
    },
  };
}
