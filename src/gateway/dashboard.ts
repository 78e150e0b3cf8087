/**
 * /dashboard: a live page of the cluster's instances (region, sessions, topics, deliveries
 * per second, inbox lag, probe round trip, health), updated once a second over server-sent
 * events (/dashboard/events). Every instance serves it, from the instance registry: each
 * instance writes its figures into its registry entry at each heartbeat (Membership).
 *
 * Access (docs/operations.md): OPERATOR_TOKEN or any app's secret, given once as
 * `/dashboard?token=…` (answered with a cookie and a redirect that drops the token from the
 * address bar and history) or as `Authorization: Bearer …` on every request (scripts). The
 * cookie holds an HMAC of the secret, never the secret: `HttpOnly`, `SameSite=Strict`,
 * limited to /dashboard, for 12 hours.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import type { InstanceInfo } from '../cluster/registry.ts';
import { ErrorCode } from '../protocol/codes.ts';
import { httpError } from './httpErrors.ts';

/** What the dashboard needs from the gateway. */
export interface DashboardPort {
  readonly instanceId: string;
  liveInstances(): Promise<InstanceInfo[]>;
  /** The secrets that open the dashboard: OPERATOR_TOKEN and every app's secret. */
  dashboardSecrets(): readonly string[];
}

const COOKIE = 'sy_dashboard';
const COOKIE_MAX_AGE_SEC = 12 * 3600;
/** How often the page gets fresh figures; the figures themselves change at each heartbeat. */
const PUSH_INTERVAL_MS = 1000;

function mac(secret: string): string {
  return createHmac('sha256', secret).update('switchyard-dashboard').digest('base64url');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The secret `given` opens the dashboard; returns its cookie value, or null. */
function admit(port: DashboardPort, given: string | undefined): string | null {
  if (!given) return null;
  for (const secret of port.dashboardSecrets()) if (equal(given, secret)) return mac(secret);
  return null;
}

function allowed(port: DashboardPort, cookie: string | undefined, authorization: string | undefined): boolean {
  if (authorization?.startsWith('Bearer ') && admit(port, authorization.slice(7))) return true;
  if (!cookie) return false;
  return port.dashboardSecrets().some((secret) => equal(cookie, mac(secret)));
}

/** Figures for the page: every live instance, this one marked. */
async function snapshot(port: DashboardPort): Promise<string> {
  const live = await port.liveInstances();
  const now = Date.now();
  // Clocks of other machines may run ahead: an age is never negative.
  const instances = live.map((i) => ({ ...i, heartbeatAgeMs: Math.max(0, now - i.heartbeatAtMs), self: i.id === port.instanceId }));
  instances.sort((a, b) => a.id.localeCompare(b.id));
  return JSON.stringify({ at: now, instances });
}

export function mountDashboard(app: Hono, port: DashboardPort): void {
  const unauthorized = () => httpError(401, ErrorCode.Unauthorized, 'open /dashboard?token=<OPERATOR_TOKEN or an app secret> once, or send Authorization: Bearer <it>');

  app.get('/dashboard', (c) => {
    const token = c.req.query('token');
    if (token !== undefined) {
      const value = admit(port, token);
      if (!value) throw unauthorized();
      setCookie(c, COOKIE, value, { path: '/dashboard', httpOnly: true, sameSite: 'Strict', maxAge: COOKIE_MAX_AGE_SEC });
      return c.redirect('/dashboard', 303);
    }
    if (!allowed(port, getCookie(c, COOKIE), c.req.header('authorization'))) throw unauthorized();
    return c.html(DASHBOARD_PAGE);
  });

  app.get('/dashboard/events', (c) => {
    if (!allowed(port, getCookie(c, COOKIE), c.req.header('authorization'))) throw unauthorized();
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      while (open) {
        try {
          await stream.writeSSE({ event: 'cluster', data: await snapshot(port) });
        } catch {
          // The registry is unreachable: the page keeps the last figures and shows their age.
        }
        await stream.sleep(PUSH_INTERVAL_MS);
      }
    });
  });
}

const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchyard dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  th, td { text-align: right; padding: .45rem .6rem; border-bottom: 1px solid #dde2ea; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
  th { font-weight: 600; background: #f3f5f8; }
  .ok { color: #137333; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; } .drain { color: #a56300; font-weight: 600; }
  #status { color: #5b6473; }
  tfoot td { font-weight: 600; }
</style>
</head>
<body>
<h1>Switchyard cluster</h1>
<div id="status">connecting…</div>
<table>
  <thead><tr><th>instance</th><th>region</th><th>sessions</th><th>topics</th><th>deliveries/s</th><th>inbox lag</th><th>probe round trip</th><th>health</th><th>heartbeat</th></tr></thead>
  <tbody id="rows"></tbody>
  <tfoot><tr><td>total</td><td id="count"></td><td id="sessions"></td><td></td><td id="rate"></td><td></td><td></td><td></td><td></td></tr></tfoot>
</table>
<script>
const rows = document.getElementById('rows');
const status = document.getElementById('status');
function cell(text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; }
function render(snapshot) {
  rows.replaceChildren();
  let sessions = 0, rate = 0;
  for (const i of snapshot.instances) {
    const s = i.stats || {};
    sessions += i.sessions; rate += s.deliveredPerSec || 0;
    const tr = document.createElement('tr');
    tr.dataset.instance = i.id;
    const health = s.draining ? ['draining', 'drain'] : s.ready === false ? ['not ready', 'bad'] : ['ready', 'ok'];
    tr.append(
      cell(i.id + (i.self ? ' (this one)' : '')), cell(i.region), cell(String(i.sessions)),
      cell(s.topics === undefined ? '–' : String(s.topics)),
      cell(s.deliveredPerSec === undefined ? '–' : String(s.deliveredPerSec)),
      cell(s.inboxLag === undefined ? '–' : String(s.inboxLag)),
      cell(s.probeRoundTripMs == null ? '–' : s.probeRoundTripMs + ' ms'),
      cell(health[0], health[1]), cell((i.heartbeatAgeMs / 1000).toFixed(1) + ' s ago'));
    for (const [k, td] of ['id','region','sessions','topics','rate','lag','probe','health','beat'].entries()) tr.children[k].dataset.field = td;
    rows.append(tr);
  }
  document.getElementById('count').textContent = snapshot.instances.length + ' instances';
  document.getElementById('sessions').textContent = String(sessions);
  document.getElementById('rate').textContent = String(rate);
  status.textContent = 'live · updated ' + new Date(snapshot.at).toLocaleTimeString();
}
const events = new EventSource('/dashboard/events');
events.addEventListener('cluster', (e) => render(JSON.parse(e.data)));
events.onerror = () => { status.textContent = 'disconnected; retrying…'; };
</script>
</body>
</html>
`;
