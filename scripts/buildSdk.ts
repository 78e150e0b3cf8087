/**
 * Builds the package entry points into dist/ (`bun run build`; `prepare` runs it when the
 * repository is installed as a dependency): `switchyard/client` (dist/client.js, for browsers,
 * Bun and Node 22+) and `switchyard/worker` (dist/worker.js, for Node and Bun), each one ES
 * module with the package's dependencies (valibot, amqplib) left as imports, and their type
 * declarations (dist/types/, from tsc). Ends with one line per file, or exit status 1.
 */
import { existsSync, rmSync } from 'node:fs';

const ROOT = new URL('..', import.meta.url).pathname;
const DIST = `${ROOT}dist`;

rmSync(DIST, { recursive: true, force: true });

const entries = [
  { entry: 'src/client/index.ts', name: 'client.js', target: 'browser' },
  { entry: 'src/rpc/worker.ts', name: 'worker.js', target: 'node' },
] as const;

for (const { entry, name, target } of entries) {
  const result = await Bun.build({
    entrypoints: [`${ROOT}${entry}`],
    outdir: DIST,
    naming: name,
    target,
    format: 'esm',
    packages: 'external',
    sourcemap: 'linked',
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
  console.log(`build: dist/${name} (${entry}, ${target})`);
}

/**
 * TypeScript from node_modules, never a download: the repository's own (a dev dependency), or,
 * installed as a git dependency by a package manager that does not install a dependency's dev
 * dependencies (Bun), the app's, found up the tree (docs/client.md says to add it).
 */
function findTsc(): string | null {
  for (let dir = ROOT.replace(/\/$/, ''); dir !== ''; dir = dir.slice(0, dir.lastIndexOf('/'))) {
    const bin = `${dir}/node_modules/.bin/tsc`;
    if (existsSync(bin)) return bin;
  }
  return null;
}
const tscBin = findTsc();
if (tscBin === null) {
  console.error(`build: no node_modules/.bin/tsc in ${ROOT} or above it: install typescript (\`bun add -d typescript\`) and build again`);
  process.exit(1);
}
// scripts/tsconfig.sdk.json emits with `noCheck` and no ambient types: `bun run typecheck`
// checks the sources; a git install has neither @types/bun nor @types/node to check against.
const tsc = Bun.spawnSync([tscBin, '-p', `${ROOT}scripts/tsconfig.sdk.json`], { cwd: ROOT, stdout: 'inherit', stderr: 'inherit' });
if (tsc.exitCode !== 0) {
  console.error('build: tsc failed to emit the type declarations');
  process.exit(1);
}
console.log('build: dist/types/ (client/index.d.ts, rpc/worker.d.ts)');
