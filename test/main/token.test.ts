/**
 * Minting client tokens as docs/protocol.md shows it: `bun src/main/token.ts` (what `bun run
 * token` runs) and the Node/Bun and Python snippets of "Minting client tokens", each run as
 * written (the Python one with /usr/bin/python3), their tokens accepted by a gateway; and the
 * command's one-line errors.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { generateKeyPairSync } from 'node:crypto';
import { APP_STRICT, startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const APPS = JSON.stringify([APP_STRICT]);
let strict: TestGateway;
let demo: TestGateway;
beforeAll(async () => {
  strict = await startGateway('memory', { APPS });
  demo = await startGateway('memory', { APPS: '' });
});
afterAll(async () => {
  await strict?.stop();
  await demo?.stop();
});

function run(cmd: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdout: 'pipe', stderr: 'pipe' });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The first fenced block of `lang` after `heading` in docs/protocol.md. */
async function docSnippet(heading: string, lang: string): Promise<string> {
  const doc = await Bun.file(`${ROOT}docs/protocol.md`).text();
  const from = doc.indexOf(heading);
  expect(from).toBeGreaterThan(-1);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(from));
  expect(m).not.toBeNull();
  return m![1]!;
}

async function welcomeWith(gw: TestGateway, app: string, token: string): Promise<Record<string, unknown>> {
  const c = await WsClient.connect(gw.wsUrl(app, token));
  const first = await c.waitFor(() => true);
  c.close();
  return first;
}

test('bun run token: its token opens a session as that user on an app that requires tokens', async () => {
  const r = run(['bun', 'src/main/token.ts', '--app', APP_STRICT.id, '--sub', 'alice', '--ttl', '15m'], { APPS });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const token = r.stdout.trim();
  expect(token.split('.')).toHaveLength(3);
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
  expect(claims.exp - claims.iat).toBe(15 * 60);
  expect(await welcomeWith(strict, APP_STRICT.id, token)).toMatchObject({ type: 'welcome', userId: 'alice' });
});

test('bun run token without APPS signs for the demo app', async () => {
  const r = run(['bun', 'src/main/token.ts', '--app', 'demo', '--sub', 'bob']);
  expect(r.code).toBe(0);
  expect(await welcomeWith(demo, 'demo', r.stdout.trim())).toMatchObject({ type: 'welcome', userId: 'bob' });
});

test('bun run token --subscribe/--publish (repeated): the session may subscribe and publish those topics only', async () => {
  const r = run(['bun', 'src/main/token.ts', '--app', 'demo', '--sub', 'alice', '--subscribe', 'news', '--subscribe', 'dialog#alice,bob', '--publish', 'room:*']);
  expect(r.stderr).toBe('');
  const claims = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString());
  expect(claims).toMatchObject({ sub: 'alice', subscribe: ['news', 'dialog#alice,bob'], publish: ['room:*'] });
  const c = await WsClient.open(demo.wsUrl('demo', r.stdout.trim()));
  expect(await c.request({ type: 'subscribe', topics: ['news', 'dialog#alice,bob'] })).toMatchObject({ type: 'ack' });
  expect(await c.request({ type: 'subscribe', topics: ['other'] })).toMatchObject({ code: 'forbidden' });
  expect(await c.request({ type: 'publish', topic: 'room:1', data: 1 })).toMatchObject({ type: 'ack' });
  expect(await c.request({ type: 'publish', topic: 'news', data: 1 })).toMatchObject({ code: 'forbidden' });
  c.close();
});

test('an app with public keys only: exit 1, its tokens are signed with the private key', () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const APPS = JSON.stringify([{ id: 'pk', publicKeys: [publicKey.export({ type: 'spki', format: 'pem' })], apiKeys: ['api-key-0123456789'] }]);
  const r = run(['bun', 'src/main/token.ts', '--app', 'pk', '--sub', 'alice'], { APPS });
  expect(r.code).toBe(1);
  expect(r.stderr).toStartWith('token: app "pk" has publicKeys only: sign its tokens with the matching private key');
});

test.each([
  ['a bad --subscribe pattern', ['--app', 'demo', '--sub', 'alice', '--subscribe', 'a b'], 'token: --subscribe: "a b" is not a topic'],
  ['an unknown app', ['--app', 'shop', '--sub', 'alice'], 'token: unknown app "shop"; configured: demo'],
  ['a bad --ttl', ['--app', 'demo', '--sub', 'alice', '--ttl', '2 hours'], 'token: --ttl: expected a number with s, m, h or d'],
  ['a --ttl over a year', ['--app', 'demo', '--sub', 'alice', '--ttl', '366d'], 'token: --ttl: expected'],
  ['no --sub', ['--app', 'demo'], 'token: --sub <user ID> is required'],
  ['an unknown option', ['--app', 'demo', '--sub', 'a', '--user', 'b'], "token: Unknown option '--user'"],
])('%s: exit 1 and one line on stderr', (_name, args, message) => {
  const r = run(['bun', 'src/main/token.ts', ...args]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toStartWith(message);
});

test('bad APPS: exit 1 and one line naming it', () => {
  const r = run(['bun', 'src/main/token.ts', '--app', 'demo', '--sub', 'a'], { APPS: '[{"id":"x"}]' });
  expect(r.code).toBe(1);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toStartWith('token: invalid configuration: APPS: expected');
});

test("the docs' Python snippet, run with /usr/bin/python3, mints a token the gateway accepts", async () => {
  const snippet = await docSnippet('### Minting client tokens', 'python');
  const r = run(['/usr/bin/python3', '-c', snippet]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(await welcomeWith(demo, 'demo', r.stdout.trim())).toMatchObject({ type: 'welcome', userId: 'alice' });
});

test("the docs' Node/Bun snippet mints a token the gateway accepts", async () => {
  const snippet = await docSnippet('### Minting client tokens', 'ts');
  const r = run(['bun', '-e', `${snippet}\nconsole.log(token);`], { APP_SECRET: APP_STRICT.secret });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(await welcomeWith(strict, APP_STRICT.id, r.stdout.trim())).toMatchObject({ type: 'welcome', userId: 'alice' });
});
