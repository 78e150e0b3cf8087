/**
 * Keeps the architecture of STYLE.md true by reading the sources under src/:
 * - imports follow the dependency direction (protocol -> valibot only; client -> protocol
 *   only; the gateway never touches ioredis, amqplib, amqp/ or bridge/; the bridge never
 *   imports gateway/; hono/bun only in gateway/bun.ts, ioredis only in cluster/redis/,
 *   amqplib only in amqp/);
 * - seam files (the interfaces the rest is written against) import no implementation;
 * - Bun's own APIs (`Bun.*`, `from 'bun'`) only in the runtime adapters;
 * - only the entry points (main/) read configuration: the environment, and loadConfig.
 * Every rule is data (a new seam, adapter or folder rule is one line) and every violation is
 * one line naming the file and the rule. Each check also runs on made-up files that break
 * it, so that no rule passes by matching nothing.
 */
import { describe, expect, test } from 'bun:test';
import { Glob } from 'bun';

const SRC = new URL('../src/', import.meta.url).pathname;

interface Import {
  /** As written: '../cluster/redis/redisInbox.ts', 'ioredis'. */
  spec: string;
  /** Resolved under src/ ('cluster/redis/redisInbox.ts'), or the package name. */
  target: string;
}

interface SourceFile {
  /** Under src/: 'gateway/gateway.ts'. */
  path: string;
  imports: Import[];
  /** The text without its comments: a mention of Bun.serve in a comment is no use of it. */
  code: string;
}

/** Resolves a relative import to a path under src/ ("protocol/frames.ts"), or returns the package name. */
function resolve(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return new URL(spec, `file:///${from}`).pathname.slice(1);
}

/**
 * Comments go line by line: JSDoc and block lines (starting with `/*` or `*`), `//` lines,
 * and a `//` after code when a space precedes it (so `redis://` in a string stays).
 */
function withoutComments(text: string): string {
  return text
    .split('\n')
    .map((line) => (/^\s*(\/\*|\*|\/\/)/.test(line) ? '' : line.replace(/\s\/\/ .*$/, '')))
    .join('\n');
}

function parse(path: string, text: string): SourceFile {
  const code = withoutComments(text);
  const imports = [...code.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => ({ spec: m[1]!, target: resolve(path, m[1]!) }));
  return { path, imports, code };
}

async function sources(): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for await (const path of new Glob('**/*.ts').scan(SRC)) files.push(parse(path, await Bun.file(SRC + path).text()));
  return files;
}

// --- Dependency direction ---------------------------------------------------------------

const FOLDER_RULES: { files: RegExp; allowed: (t: string) => boolean; why: string }[] = [
  { files: /^protocol\//, allowed: (t) => t === 'valibot' || t.startsWith('protocol/'), why: 'protocol depends on valibot only' },
  { files: /^client\//, allowed: (t) => t.startsWith('protocol/') || t.startsWith('client/'), why: 'the client SDK imports only protocol/' },
  { files: /^lib\//, allowed: (t) => t.startsWith('lib/') || t.startsWith('node:'), why: 'lib/ is domain-free' },
  {
    files: /^gateway\//,
    allowed: (t) =>
      !['ioredis', 'amqplib'].includes(t) &&
      !t.startsWith('cluster/redis/') &&
      !t.startsWith('cluster/memory/') &&
      !t.startsWith('amqp/') &&
      !t.startsWith('main/') &&
      !t.startsWith('bridge/'),
    why: 'the gateway depends on cluster and job interfaces, not on Redis, RabbitMQ or the bridge',
  },
  {
    files: /^bridge\//,
    allowed: (t) => !t.startsWith('gateway/') && !t.startsWith('main/') && !t.startsWith('client/') && t !== 'hono',
    why: 'the bridge meets the gateway only through envelopes in the streams',
  },
  {
    files: /^rpc\//,
    allowed: (t) =>
      !t.startsWith('gateway/') && !t.startsWith('bridge/') && !t.startsWith('main/') && !t.startsWith('cluster/redis/') && !t.startsWith('cluster/memory/') && t !== 'ioredis',
    why: 'rpc/ is the job seam, the session side of jobs and the worker SDK: protocol, amqp, cluster interfaces and lib only',
  },
  {
    files: /^amqp\//,
    allowed: (t) => !t.startsWith('gateway/') && !t.startsWith('bridge/') && !t.startsWith('main/') && !t.startsWith('cluster/') && t !== 'ioredis',
    why: 'amqp/ is the RabbitMQ layer; it knows no gateway, bridge or Redis',
  },
  { files: /^metrics\//, allowed: (t) => t === 'prom-client', why: 'metrics/ wraps prom-client and knows nothing else' },
  { files: /^cluster\//, allowed: (t) => t !== 'amqplib' && t !== 'hono' && !t.startsWith('gateway/') && !t.startsWith('main/'), why: 'cluster knows nothing of HTTP or AMQP' },
];

/** Infrastructure libraries, each in one place. */
const LIBRARY_HOMES: { library: string; home: (path: string) => boolean; where: string }[] = [
  { library: 'hono/bun', home: (p) => p === 'gateway/bun.ts', where: 'gateway/bun.ts' },
  { library: 'ioredis', home: (p) => p.startsWith('cluster/redis/'), where: 'cluster/redis/' },
  { library: 'amqplib', home: (p) => p.startsWith('amqp/'), where: 'amqp/' },
  { library: 'prom-client', home: (p) => p === 'metrics/metrics.ts', where: 'metrics/metrics.ts' },
];

function dependencyViolations(files: SourceFile[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const { spec, target } of file.imports) {
      for (const rule of FOLDER_RULES) if (rule.files.test(file.path) && !rule.allowed(target)) out.push(`${file.path} imports ${spec}: ${rule.why}`);
      for (const { library, home, where } of LIBRARY_HOMES) {
        if (target === library && !home(file.path)) out.push(`${file.path} imports ${spec}: ${library} belongs in ${where} only`);
      }
    }
  }
  return out;
}

// --- Seams import no implementation -----------------------------------------------------

/**
 * Files that declare the interfaces the rest of the code is written against, and the
 * folders (or files, or packages) of their implementations. Besides those, a seam file
 * imports no file that declares a class implementing an interface of any seam file
 * (`class RedisInbox implements Inbox`), wherever that class lives.
 */
const SEAMS: { files: RegExp; implementations: string[]; seam: string }[] = [
  { files: /^cluster\/[^/]+\.ts$/, implementations: ['cluster/memory/', 'cluster/redis/', 'ioredis'], seam: 'top-level cluster/ files' },
  { files: /^rpc\/jobs\.ts$/, implementations: ['amqp/', 'amqplib'], seam: 'rpc/jobs.ts: JobPublisher' },
  { files: /^gateway\/socket\.ts$/, implementations: ['gateway/bun.ts', 'hono/bun'], seam: 'gateway/socket.ts: Socket, LocalFanout' },
  { files: /^lib\/service\.ts$/, implementations: [], seam: 'lib/service.ts: Service' },
];

/** File -> "RedisInbox implements Inbox" for each class there that implements a seam interface. */
function seamImplementations(files: SourceFile[]): Map<string, string[]> {
  const seamInterfaces = new Set<string>();
  for (const file of files) {
    if (!SEAMS.some((s) => s.files.test(file.path))) continue;
    for (const m of file.code.matchAll(/^export\s+interface\s+(\w+)/gm)) seamInterfaces.add(m[1]!);
  }
  const byFile = new Map<string, string[]>();
  for (const file of files) {
    for (const m of file.code.matchAll(/\bclass\s+(\w+)[^{]*?\bimplements\s+([^{]+)\{/g)) {
      const implemented = m[2]!
        .replace(/<[^>]*>/g, '')
        .split(',')
        .map((name) => name.trim())
        .filter((name) => seamInterfaces.has(name));
      if (implemented.length > 0) byFile.set(file.path, [...(byFile.get(file.path) ?? []), `${m[1]} implements ${implemented.join(', ')}`]);
    }
  }
  return byFile;
}

function seamViolations(files: SourceFile[]): string[] {
  const implementations = seamImplementations(files);
  const out: string[] = [];
  for (const file of files) {
    for (const seam of SEAMS.filter((s) => s.files.test(file.path))) {
      for (const { spec, target } of file.imports) {
        const folder = seam.implementations.find((i) => target === i || (i.endsWith('/') && target.startsWith(i)));
        const classes = implementations.get(target);
        const why = folder ? `${folder} is one` : classes?.join('; ');
        if (why) out.push(`${file.path} imports ${spec}: seam files (${seam.seam}) import no implementation; ${why}`);
      }
    }
  }
  return out;
}

// --- Bun's own APIs only in the runtime adapters ----------------------------------------

/**
 * The runtime adapters: the gateway's server and WebSocket (hono/bun), and, outside the
 * gateway, plain HTTP servers and sleeps. Porting to another runtime rewrites these files.
 */
const RUNTIME_ADAPTERS = ['gateway/bun.ts', 'lib/runtime.ts'];

function runtimeViolations(files: SourceFile[]): string[] {
  const out: string[] = [];
  for (const file of files.filter((f) => !RUNTIME_ADAPTERS.includes(f.path))) {
    const uses = new Set([...file.code.matchAll(/\bBun\.\w+/g)].map((m) => m[0]));
    for (const use of uses) out.push(`${file.path} uses ${use}: Bun's APIs belong in ${RUNTIME_ADAPTERS.join(' and ')} only`);
    for (const { spec } of file.imports) {
      if (spec === 'bun' || spec.startsWith('bun:')) out.push(`${file.path} imports ${spec}: Bun's APIs belong in ${RUNTIME_ADAPTERS.join(' and ')} only`);
    }
  }
  return out;
}

// --- Only the entry points read configuration -------------------------------------------

const CONFIG_READERS = (path: string) => path.startsWith('main/');

function configViolations(files: SourceFile[]): string[] {
  const out: string[] = [];
  for (const file of files.filter((f) => !CONFIG_READERS(f.path))) {
    // config.ts parses the environment it is given (process.env by default).
    if (file.path !== 'config.ts') {
      for (const use of new Set([...file.code.matchAll(/\b(?:process|Bun)\.env\b/g)].map((m) => m[0]))) {
        out.push(`${file.path} reads ${use}: only the entry points (main/) and config.ts read the environment`);
      }
    }
    if (file.path !== 'config.ts' && /\bloadConfig\b/.test(file.code)) {
      out.push(`${file.path} uses loadConfig: only the entry points (main/) load the configuration; others receive what they need`);
    }
  }
  return out;
}

// --- The checks, on the sources and on files made to break them -------------------------

describe('the sources', () => {
  test('imports follow the dependency direction', async () => {
    expect(dependencyViolations(await sources())).toEqual([]);
  });

  test('seam files import no implementation', async () => {
    const files = await sources();
    expect(seamViolations(files)).toEqual([]);
    // The rule sees the seams it is about: every Memory and Redis class behind them.
    const found = [...seamImplementations(files).values()].flat();
    expect(found).toContain('RedisInbox implements Inbox');
    expect(found).toContain('MemoryBackend implements ClusterBackend');
    expect(found).toContain('AmqpJobPublisher implements JobPublisher');
  });

  test("Bun's APIs are used only in the runtime adapters", async () => {
    expect(runtimeViolations(await sources())).toEqual([]);
  });

  test('only the entry points read configuration', async () => {
    expect(configViolations(await sources())).toEqual([]);
  });
});

describe('each rule flags a file that breaks it', () => {
  const made = (files: Record<string, string>) => Object.entries(files).map(([path, text]) => parse(path, text));

  test('dependency direction', () => {
    const files = made({
      'gateway/session.ts': "import { Redis } from 'ioredis';\nimport type { Job } from '../protocol/job.ts';",
      'protocol/frames.ts': "import { serve } from '../gateway/bun.ts';",
    });
    expect(dependencyViolations(files)).toEqual([
      'gateway/session.ts imports ioredis: the gateway depends on cluster and job interfaces, not on Redis, RabbitMQ or the bridge',
      'gateway/session.ts imports ioredis: ioredis belongs in cluster/redis/ only',
      'protocol/frames.ts imports ../gateway/bun.ts: protocol depends on valibot only',
    ]);
  });

  test('seams: by folder, and by a class that implements a seam interface wherever it lives', () => {
    const files = made({
      'cluster/inbox.ts': "import { RedisInbox } from './redis/redisInbox.ts';\nexport interface Inbox {\n  stop(): Promise<void>;\n}",
      'cluster/backend.ts': "import type { Inbox } from './inbox.ts';\nimport { FancyInbox } from '../lib/fancyInbox.ts';",
      'lib/fancyInbox.ts': "import type { Inbox } from '../cluster/inbox.ts';\nexport class FancyInbox<T> implements Inbox {\n}",
      'rpc/jobs.ts': "import type { AmqpJobPublisher } from '../amqp/amqpJobPublisher.ts';",
    });
    expect(seamViolations(files)).toEqual([
      'cluster/inbox.ts imports ./redis/redisInbox.ts: seam files (top-level cluster/ files) import no implementation; cluster/redis/ is one',
      'cluster/backend.ts imports ../lib/fancyInbox.ts: seam files (top-level cluster/ files) import no implementation; FancyInbox implements Inbox',
      'rpc/jobs.ts imports ../amqp/amqpJobPublisher.ts: seam files (rpc/jobs.ts: JobPublisher) import no implementation; amqp/ is one',
    ]);
  });

  test("Bun's APIs, in code and types but not in comments", () => {
    const files = made({
      'cluster/redis/redisInbox.ts': '/** Waits like Bun.sleep does. */\nawait Bun.sleep(50); // not Bun.sleep again',
      'bridge/bridge.ts': 'let server: ReturnType<typeof Bun.serve> | null = null;',
      'gateway/hub.ts': "import type { Server } from 'bun';",
      'lib/runtime.ts': 'export const sleep = (ms: number) => Bun.sleep(ms);',
    });
    expect(runtimeViolations(files)).toEqual([
      "cluster/redis/redisInbox.ts uses Bun.sleep: Bun's APIs belong in gateway/bun.ts and lib/runtime.ts only",
      "bridge/bridge.ts uses Bun.serve: Bun's APIs belong in gateway/bun.ts and lib/runtime.ts only",
      "gateway/hub.ts imports bun: Bun's APIs belong in gateway/bun.ts and lib/runtime.ts only",
    ]);
  });

  test('configuration: the environment and loadConfig outside main/; types from config.ts are fine', () => {
    const files = made({
      'gateway/gateway.ts': "import type { Config } from '../config.ts';\nconst port = process.env.PORT;",
      'bridge/bridge.ts': "import { loadConfig } from '../config.ts';",
      'main/gateway.ts': "import { loadConfig } from '../config.ts';\nconst debug = process.env.DEBUG;",
      'config.ts': 'export function loadConfig(env = process.env) {}',
    });
    expect(configViolations(files)).toEqual([
      'gateway/gateway.ts reads process.env: only the entry points (main/) and config.ts read the environment',
      'bridge/bridge.ts uses loadConfig: only the entry points (main/) load the configuration; others receive what they need',
    ]);
  });
});
