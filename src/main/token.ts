/**
 * `bun run token --app <app> --sub <user> [--ttl 1h] [--subscribe <pattern>]… [--publish <pattern>]…`:
 * prints a client token (an HS256 JWT signed with the app's first secret, with the topic
 * permissions given) for development and scripts, like Centrifugo's `gentoken`.
 * Reads APPS exactly as the gateway does (without it: the demo app). Any problem is one line
 * on stderr and exit status 1.
 */
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { ConfigError, loadConfig } from '../config.ts';
import { signClientToken, type TokenPermissions } from '../gateway/auth.ts';
import { TopicPatternSchema } from '../protocol/names.ts';

const UNIT_SEC = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** A year: a longer-lived token is a password that cannot be changed. */
const MAX_TTL_SEC = 365 * 86_400;

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

/** `30s`, `15m`, `1h`, `7d` -> seconds. */
function parseTtl(raw: string): number {
  const m = /^(\d{1,9})([smhd])$/.exec(raw);
  const seconds = m ? Number(m[1]) * UNIT_SEC[m[2] as keyof typeof UNIT_SEC] : NaN;
  if (!(seconds >= 1 && seconds <= MAX_TTL_SEC)) {
    fail(`--ttl: expected a number with s, m, h or d (like 30s, 15m, 1h, 7d), from 1s to 365d, got ${JSON.stringify(raw)}`);
  }
  return seconds;
}

const USAGE = 'usage: bun run token --app <app> --sub <user> [--ttl 1h] [--subscribe <pattern>]... [--publish <pattern>]...';

let values: { app?: string; sub?: string; ttl?: string; subscribe?: string[]; publish?: string[] };
try {
  ({ values } = parseArgs({
    options: {
      app: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      // Repeated rather than comma-separated: topics may contain commas (user-limited topics).
      subscribe: { type: 'string', multiple: true },
      publish: { type: 'string', multiple: true },
    },
  }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}; ${USAGE}`);
}
if (!values.app) fail(`--app <app> is required; ${USAGE}`);
if (!values.sub || values.sub.length > 256) fail('--sub <user ID> is required (1-256 characters)');
const ttlSec = parseTtl(values.ttl ?? '1h');
const permissions: TokenPermissions = {};
for (const claim of ['subscribe', 'publish'] as const) {
  const patterns = values[claim];
  if (patterns === undefined) continue;
  for (const pattern of patterns) {
    if (!v.is(TopicPatternSchema, pattern)) fail(`--${claim}: ${JSON.stringify(pattern)} is not a topic or a topic prefix followed by *`);
  }
  permissions[claim] = patterns;
}

let apps;
try {
  apps = loadConfig().apps;
} catch (error) {
  if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
  throw error;
}
const app = apps.find((a) => a.id === values.app);
if (!app) {
  fail(`unknown app ${JSON.stringify(values.app)}; configured: ${apps.map((a) => a.id).join(', ')} (APPS defines apps; without it only "demo" exists)`);
}
if (app.secrets === undefined && app.secret === undefined) {
  fail(`app ${JSON.stringify(app.id)} has publicKeys only: sign its tokens with the matching private key (bun run token signs HS256 with the app's first secret)`);
}
process.stdout.write(`${await signClientToken(app, values.sub, ttlSec, undefined, permissions)}\n`);
