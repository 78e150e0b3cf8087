/**
 * What code outside the gateway needs from the runtime: sleeping, a plain HTTP server (the
 * bridge's health and metrics endpoints), and bundling a browser module (the demo page's SDK). With gateway/bun.ts (the gateway's server and
 * WebSockets), the only file that calls Bun's own APIs, so that another runtime means
 * rewriting these two files (test/architecture.test.ts keeps it so).
 */

export function sleep(ms: number): Promise<void> {
  return Bun.sleep(ms);
}

export interface HttpServer {
  /** The bound port (differs from the one asked for when that was 0). */
  readonly port: number;
  /** Stops listening and closes the open connections. */
  stop(): Promise<void>;
}

export function serveHttp(options: { host: string; port: number; fetch: (request: Request) => Response | Promise<Response> }): HttpServer {
  const server = Bun.serve({ hostname: options.host, port: options.port, fetch: options.fetch });
  return {
    get port() {
      return server.port ?? options.port;
    },
    stop: () => server.stop(true),
  };
}

/**
 * Bundles a browser module (the client SDK for the demo page) into one ES module with its
 * dependencies inlined. Used once per process, at the first request (see gateway/demoPage.ts).
 */
export async function bundleForBrowser(entry: string): Promise<string> {
  const result = await Bun.build({ entrypoints: [entry], target: 'browser', format: 'esm', minify: true });
  if (!result.success || result.outputs.length !== 1) throw new Error(`bundling ${entry} failed: ${result.logs.map(String).join('; ')}`);
  return await result.outputs[0]!.text();
}
