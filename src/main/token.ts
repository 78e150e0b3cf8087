/**
 * `bun run token --app <app> --sub <user> [--ttl 1h]`: prints a client token (an HS256 JWT
 * signed with the app's secret) for development and scripts, like Centrifugo's `gentoken`.
 * Reads APPS exactly as the gateway does (without it: the demo app). Any problem is one line
 * on stderr and exit status 1.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { signClientToken } from '../gateway/auth.ts';

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

let values: { app?: string; sub?: string; ttl?: string };
try {
  ({ values } = parseArgs({
    options: { app: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string', default: '1h' } },
  }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}; usage: bun run token --app <app> --sub <user> [--ttl 1h]`);
}
if (!values.app) fail('--app <app> is required; usage: bun run token --app <app> --sub <user> [--ttl 1h]');
if (!values.sub || values.sub.length > 256) fail('--sub <user ID> is required (1-256 characters)');
const ttlSec = parseTtl(values.ttl ?? '1h');

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
process.stdout.write(`${await signClientToken(app, values.sub, ttlSec)}\n`);
