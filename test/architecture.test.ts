/**
 * Keeps the dependency direction of STYLE.md true by reading imports:
 * protocol -> valibot only; client -> protocol only; gateway never touches ioredis/amqplib
 * (nor amqp/, bridge/); bridge never imports gateway/; gateway and bridge meet only through
 * envelopes in the streams; hono/bun only in gateway/bun.ts; ioredis only in cluster/redis;
 * amqplib only in amqp/; only entry points (main/) read configuration from the environment.
 */
import { expect, test } from 'bun:test';
import { Glob } from 'bun';

const SRC = new URL('../src/', import.meta.url).pathname;

interface SourceFile {
  path: string;
  imports: string[];
  text: string;
}

async function sources(): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for await (const path of new Glob('**/*.ts').scan(SRC)) {
    const text = await Bun.file(SRC + path).text();
    const imports = [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    files.push({ path, imports, text });
  }
  return files;
}

/** Resolves a relative import to a path under src/ ("protocol/frames.ts"), or returns the package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return new URL(spec, `file:///${from}`).pathname.slice(1);
}

const rules: { files: RegExp; allowed: (t: string) => boolean; why: string }[] = [
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
  { files: /^cluster\//, allowed: (t) => t !== 'amqplib' && t !== 'hono' && !t.startsWith('gateway/') && !t.startsWith('main/'), why: 'cluster knows nothing of HTTP or AMQP' },
];

test('imports follow the dependency direction', async () => {
  const violations: string[] = [];
  for (const file of await sources()) {
    for (const spec of file.imports) {
      const t = target(file.path, spec);
      for (const rule of rules) if (rule.files.test(file.path) && !rule.allowed(t)) violations.push(`${file.path} imports ${spec}: ${rule.why}`);
      if (t === 'hono/bun' && file.path !== 'gateway/bun.ts') violations.push(`${file.path}: hono/bun belongs in gateway/bun.ts only`);
      if (t === 'ioredis' && !file.path.startsWith('cluster/redis/')) violations.push(`${file.path}: ioredis belongs in cluster/redis/ only`);
      if (t === 'amqplib' && !file.path.startsWith('amqp/')) violations.push(`${file.path}: amqplib belongs in amqp/ only`);
    }
  }
  expect(violations).toEqual([]);
});

test('only entry points and config.ts read the environment', async () => {
  const readers = (await sources()).filter((f) => /process\.env\b|Bun\.env\b/.test(f.text)).map((f) => f.path);
  expect(readers.filter((p) => !p.startsWith('main/') && p !== 'config.ts')).toEqual([]);
});
