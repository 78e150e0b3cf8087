/**
 * Headless Chromium for tests: Debian's /usr/bin/chromium driven by playwright-core, with a
 * fresh profile per launch, and a page bundled with Bun.build from a module that imports the
 * SDK by its package name (`switchyard/client`, i.e. dist/client.js, built here first with
 * `bun run build`), served by a small static server of the test's own. No Chromium: the test
 * fails with the command that installs it (scripts/services.sh chromium), never skips.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = new URL('../..', import.meta.url).pathname;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh --user-data-dir, removed on close. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/services.sh chromium\` (as root it installs Debian's chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'sy-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Builds the package entry points (dist/), so that `switchyard/client` resolves to what an app gets. */
export async function buildPackage(): Promise<void> {
  const build = Bun.spawn(['bun', 'run', 'build'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
  if (code !== 0) throw new Error(`bun run build failed (${code}):\n${out}${err}`);
}

/** Bundles a browser module with Bun.build (one ES module, everything inlined). */
export async function bundle(entry: string): Promise<string> {
  const result = await Bun.build({ entrypoints: [entry], target: 'browser', format: 'esm' });
  if (!result.success) throw new Error(`bundling ${entry} failed:\n${result.logs.map(String).join('\n')}`);
  return await result.outputs[0]!.text();
}

export interface StaticSite {
  url: string;
  stop(): void;
}

/** Serves one HTML page at `/` that loads `/page.js` (the bundle) as a module. */
export function serveBundle(js: string, title: string): StaticSite {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><script type="module" src="/page.js"></script></body></html>`;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path === '/page.js') return new Response(js, { headers: { 'content-type': 'text/javascript' } });
      if (path === '/') return new Response(html, { headers: { 'content-type': 'text/html' } });
      return new Response('not found', { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => server.stop(true) };
}
