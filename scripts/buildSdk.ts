/**
 * Builds the package entry points into dist/ (`bun run build`; `prepare` runs it when the
 * repository is installed as a dependency): `switchyard/client` (dist/client.js, for browsers,
 * Bun and Node 22+) and `switchyard/worker` (dist/worker.js, for Node and Bun), each one ES
 * module with the package's dependencies (valibot, amqplib) left as imports, and their type
 * declarations (dist/types/, from tsc). Ends with one line per output, or exit status 1.
 */
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const DIST = `${ROOT}/dist`;
const ENTRIES = [
  { entry: 'client/index.ts', name: 'client.js', target: 'browser' },
  { entry: 'rpc/worker.ts', name: 'worker.js', target: 'node' },
] as const;

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

/** The nearest `node_modules/<path>` at or above the repository (an app's, for a git install). */
function findUp(path: string): string | null {
  for (let dir = ROOT; dir !== ''; dir = dir.slice(0, dir.lastIndexOf('/'))) {
    if (existsSync(`${dir}/node_modules/${path}`)) return `${dir}/node_modules`;
  }
  return null;
}

rmSync(DIST, { recursive: true, force: true });

for (const { entry, name, target } of ENTRIES) {
  const result = await Bun.build({ entrypoints: [`${ROOT}/src/${entry}`], outdir: DIST, naming: name, target, format: 'esm', packages: 'external', sourcemap: 'linked' });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    fail(`bundling ${entry} failed`);
  }
  console.log(`build: dist/${name} (src/${entry}, ${target})`);
}

/*
 * Declarations. TypeScript from node_modules, never a download: the repository's own (a dev
 * dependency), or, for a git install by a package manager that skips a dependency's dev
 * dependencies (Bun), the app's (docs/client.md says to add it). tsc runs on a copy of src/
 * outside the repository: installed as a dependency, the repository sits under node_modules,
 * where tsc treats the imported sources as a library's and emits nothing for them. It emits
 * with `noCheck` and no ambient types: `bun run typecheck` checks the sources, and a git
 * install has neither @types/bun nor @types/node.
 */
const tscHome = findUp('.bin/tsc');
if (tscHome === null) fail(`no node_modules/.bin/tsc in ${ROOT} or above it: install typescript (\`bun add -d typescript\`) and build again`);
const deps = findUp('valibot');
if (deps === null) fail(`no node_modules/valibot in ${ROOT} or above it: install the dependencies first`);
const stage = mkdtempSync(join(tmpdir(), 'switchyard-sdk-'));
try {
  cpSync(`${ROOT}/src`, `${stage}/src`, { recursive: true });
  symlinkSync(deps, `${stage}/node_modules`);
  const compilerOptions = {
    target: 'ESNext',
    module: 'Preserve',
    moduleResolution: 'bundler',
    lib: ['ESNext', 'DOM'],
    types: [],
    strict: true,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    declaration: true,
    emitDeclarationOnly: true,
    noCheck: true,
    rootDir: 'src',
    outDir: `${DIST}/types`,
  };
  writeFileSync(`${stage}/tsconfig.json`, JSON.stringify({ compilerOptions, files: ENTRIES.map((e) => `src/${e.entry}`) }));
  const tsc = Bun.spawnSync([`${tscHome}/.bin/tsc`, '-p', `${stage}/tsconfig.json`], { cwd: stage, stdout: 'inherit', stderr: 'inherit' });
  if (tsc.exitCode !== 0) fail('tsc failed to emit the type declarations');
} finally {
  rmSync(stage, { recursive: true, force: true });
}
console.log(`build: dist/types/ (${ENTRIES.map((e) => e.entry.replace(/\.ts$/, '.d.ts')).join(', ')} and what they import)`);
