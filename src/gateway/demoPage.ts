/**
 * The demo page at `/`: a small app built on the client SDK itself (src/client/, bundled for
 * the browser once per process and served at /demo/sdk.js), so that a newcomer sees the
 * gateway work and what the SDK does: reconnects and recovery, binary messages (a small
 * image drawn on a canvas), presence of a room, and direct messages between two tabs.
 *
 * In demo mode (no APPS) the page gets a token for the user name it shows from /demo/token,
 * signed with the demo app's secret, which is public anyway; with APPS configured that route
 * is 404 and the page takes a token pasted into its field (or connects anonymously).
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { ErrorCode } from '../protocol/codes.ts';
import { UserIdSchema } from '../protocol/names.ts';
import { bundleForBrowser } from '../lib/runtime.ts';
import { signClientToken, type Apps } from './auth.ts';
import { httpError } from './httpErrors.ts';

export interface DemoPort {
  readonly demoMode: boolean;
  readonly apps: Apps;
}

/** Tokens the page mints for itself last this long; the SDK refreshes them before `exp`. */
const DEMO_TOKEN_TTL_SEC = 3600;
const SDK_ENTRY = new URL('../client/index.ts', import.meta.url).pathname;

export function mountDemo(app: Hono, port: DemoPort): void {
  let sdk: Promise<string> | null = null;

  app.get('/', (c) => c.html(DEMO_PAGE));

  app.get('/demo/sdk.js', async () => {
    // Bundled at the first request, then kept; a failure is retried at the next request.
    sdk ??= bundleForBrowser(SDK_ENTRY).catch((error: unknown) => {
      sdk = null;
      throw error;
    });
    return new Response(await sdk, { headers: { 'content-type': 'text/javascript; charset=utf-8' } });
  });

  app.get('/demo/token', async (c) => {
    const demo = port.demoMode ? port.apps.get('demo') : undefined;
    if (!demo) throw httpError(404, ErrorCode.NotFound, 'demo tokens exist only in demo mode (no APPS configured)');
    const user = v.safeParse(UserIdSchema, c.req.query('user'));
    if (!user.success) throw httpError(400, ErrorCode.InvalidRequest, `user: ${user.issues[0].message}`);
    return c.json({ token: await signClientToken(demo, user.output, DEMO_TOKEN_TTL_SEC) });
  });
}

export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchyard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem auto; max-width: 64rem; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  h2 { font-size: 1rem; margin: 0 0 .4rem; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  section { border: 1px solid #d5dbe3; border-radius: 6px; padding: .7rem; }
  .row { display: flex; gap: .5rem; margin: .4rem 0; flex-wrap: wrap; align-items: center; }
  input { font: inherit; padding: .3rem .5rem; border: 1px solid #b8c0cc; border-radius: 4px; }
  button { font: inherit; padding: .3rem .8rem; border: 0; border-radius: 4px; background: #2457c5; color: #fff; cursor: pointer; }
  ul { margin: 0; padding-left: 1.2rem; max-height: 12rem; overflow: auto; }
  #status { font-weight: 600; }
  #log { background: #0f1620; color: #d7e0ea; padding: .6rem; border-radius: 6px; height: 14rem; overflow: auto; font: 12px/1.45 ui-monospace, monospace; white-space: pre-wrap; }
  .ok { color: #8fd18f; } .warn { color: #ffd27f; } .err { color: #ff9a8f; }
  #images img { width: 48px; height: 48px; margin: 2px; image-rendering: pixelated; border: 1px solid #d5dbe3; }
</style>
</head>
<body>
<h1>Switchyard</h1>
<p>Status: <span id="status">connecting…</span> · user <b id="me">?</b> · instance <b id="instance">?</b></p>
<div class="row">
  <label>User <input id="user" size="12"></label>
  <label>Token <input id="token" placeholder="JWT (outside demo mode)" size="24"></label>
  <label>URLs <input id="urls" size="30" placeholder="ws URLs, space separated"></label>
  <button id="connect">Connect</button>
</div>
<div class="grid">
  <section>
    <h2>Topic <code>news</code></h2>
    <div class="row"><input id="data" value='{"hello":"world"}' size="28"><button id="publish">Publish</button></div>
    <ul id="news"></ul>
  </section>
  <section>
    <h2>Room <code>room:demo</code>: <span id="count">0</span> present</h2>
    <ul id="members"></ul>
    <div class="row"><button id="image">Send an image (bytes)</button></div>
    <div id="images"></div>
  </section>
  <section>
    <h2>Direct messages</h2>
    <div class="row"><input id="to" placeholder="to user" size="10"><input id="text" placeholder="text" size="18"><button id="send">Send</button></div>
    <ul id="directs"></ul>
  </section>
  <section>
    <h2>Connection</h2>
    <div id="log"></div>
  </section>
</div>
<script type="module">
import { SwitchyardClient } from '/demo/sdk.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const ROOM = 'room:demo';
let client = null;

function log(cls, text) {
  const line = document.createElement('div');
  line.className = cls;
  line.textContent = new Date().toLocaleTimeString() + '  ' + text;
  $('log').prepend(line);
}
function item(list, text, attrs) {
  const li = document.createElement('li');
  li.textContent = text;
  for (const [k, val] of Object.entries(attrs || {})) li.setAttribute(k, val);
  $(list).prepend(li);
  return li;
}
function defaultUrls() {
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
async function tokenFor(user) {
  if ($('token').value) return $('token').value;
  if (!user) return '';
  const res = await fetch('/demo/token?user=' + encodeURIComponent(user));
  if (!res.ok) return '';
  return (await res.json()).token;
}

async function showPresence() {
  try {
    const presence = await client.presence(ROOM);
    $('count').textContent = String(presence.count);
    $('members').replaceChildren();
    for (const m of presence.members) item('members', m.user + (m.sessions > 1 ? ' (' + m.sessions + ' tabs)' : ''), { 'data-user': m.user });
  } catch (error) {
    // Anonymous sessions are not members, and another app may have no presence topics.
    $('count').textContent = '–';
    log('warn', 'presence: ' + error.message);
  }
}

function showImage(bytes, offset) {
  const img = document.createElement('img');
  img.src = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
  img.title = bytes.byteLength + ' bytes at ' + offset;
  img.setAttribute('data-offset', offset);
  $('images').prepend(img);
}

async function connect() {
  if (client) client.close();
  const user = $('user').value.trim();
  const urls = ($('urls').value.trim() || defaultUrls()).split(/\\s+/);
  client = new SwitchyardClient({ urls, app: params.get('app') || 'demo', token: () => tokenFor(user) });
  $('me').textContent = user || 'anonymous';
  client.on('state', (state, detail) => {
    $('status').textContent = state;
    $('instance').textContent = detail.instanceId || (state === 'open' ? '?' : '–');
    if (state === 'open') {
      log(detail.recovered === false ? 'warn' : 'ok', 'open on ' + detail.instanceId + (detail.recovered === false ? ': something could not be recovered' : ', everything recovered'));
      void showPresence();
    } else {
      log(state === 'closed' ? 'err' : 'warn', state + (detail.closeCode ? ' (close code ' + detail.closeCode + ')' : ''));
    }
  });
  client.on('gap', (topic) => log('warn', 'gap on ' + topic + ': history no longer covered what was missed'));
  client.on('error', (e) => log('err', e.code + ': ' + e.message));
  client.on('join', (e) => { log('ok', e.user + ' joined ' + e.topic); void showPresence(); });
  client.on('leave', (e) => { log('warn', e.user + ' left ' + e.topic); void showPresence(); });
  client.on('inbox', (i) => log(i.lost ? 'warn' : 'ok', 'user inbox: ' + i.pending + ' pending' + (i.lost ? ', some were lost' : '')));
  client.on('direct', (m) => {
    const text = m.data instanceof Uint8Array ? m.data.byteLength + ' bytes' : JSON.stringify(m.data);
    item('directs', (m.from || 'server') + ': ' + text, { 'data-from': m.from || '' });
    void client.received(m.messageId).catch(() => {});
  });
  try {
    await client.subscribe('news', (m) => item('news', m.offset + '  ' + (m.data instanceof Uint8Array ? m.data.byteLength + ' bytes' : JSON.stringify(m.data))));
    await client.subscribe(ROOM, 'images', (m) => {
      if (m.data instanceof Uint8Array) showImage(m.data, m.offset);
    });
  } catch (error) {
    log('err', 'subscribe: ' + error.message);
  }
}

/** A 16x16 PNG in a random colour, drawn on a canvas: the bytes of a binary message. */
async function drawImage() {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 16;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'hsl(' + Math.floor(Math.random() * 360) + ' 70% 50%)';
  ctx.fillRect(0, 0, 16, 16);
  ctx.fillStyle = '#fff';
  ctx.fillRect(4, 4, 8, 8);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  return new Uint8Array(await blob.arrayBuffer());
}

$('user').value = params.get('user') || 'guest-' + Math.random().toString(36).slice(2, 6);
$('connect').onclick = connect;
$('publish').onclick = async () => {
  let data;
  try { data = JSON.parse($('data').value); } catch { return log('err', 'data is not JSON'); }
  try { log('ok', 'published at ' + await client.publish('news', data)); } catch (e) { log('err', 'publish: ' + e.message); }
};
$('image').onclick = async () => {
  try { log('ok', 'image published at ' + await client.publish('images', await drawImage())); } catch (e) { log('err', 'image: ' + e.message); }
};
$('send').onclick = async () => {
  const to = $('to').value.trim();
  try {
    await client.send(to, { text: $('text').value });
    item('directs', 'to ' + to + ': ' + JSON.stringify({ text: $('text').value }), { 'data-to': to });
  } catch (e) { log('err', 'send: ' + e.message); }
};
connect();
</script>
</body>
</html>
`;
