/**
 * The page served at `/`: connects to this instance, subscribes, publishes and shows what
 * arrives, so a newcomer sees the gateway work in a browser. Uses the `demo` app by default.
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchyard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .row { display: flex; gap: .5rem; margin: .6rem 0; flex-wrap: wrap; align-items: center; }
  input { font: inherit; padding: .35rem .5rem; border: 1px solid #b8c0cc; border-radius: 4px; }
  button { font: inherit; padding: .35rem .8rem; border: 0; border-radius: 4px; background: #2457c5; color: #fff; cursor: pointer; }
  #status { font-weight: 600; }
  #log { background: #0f1620; color: #d7e0ea; padding: .8rem; border-radius: 6px; height: 22rem; overflow: auto; font: 13px/1.45 ui-monospace, monospace; white-space: pre-wrap; }
  .in { color: #8fd18f; } .out { color: #8fb7ff; } .err { color: #ff9a8f; }
</style>
</head>
<body>
<h1>Switchyard</h1>
<p>Status: <span id="status">connecting…</span></p>
<div class="row">
  <label>App <input id="app" value="demo" size="10"></label>
  <label>Token <input id="token" placeholder="JWT (optional for demo)" size="28"></label>
  <button id="connect">Reconnect</button>
</div>
<div class="row">
  <input id="topics" value="news" size="24" placeholder="topics, space separated">
  <button id="subscribe">Subscribe</button>
  <button id="unsubscribe">Unsubscribe</button>
</div>
<div class="row">
  <input id="topic" value="news" size="12">
  <input id="data" value='{"hello":"world"}' size="36">
  <button id="publish">Publish</button>
</div>
<div id="log"></div>
<script>
const $ = (id) => document.getElementById(id);
let ws, seq = 0;
function log(cls, text) {
  const line = document.createElement('div');
  line.className = cls;
  line.textContent = new Date().toLocaleTimeString() + '  ' + text;
  $('log').prepend(line);
}
function send(frame) {
  if (!ws || ws.readyState !== 1) return log('err', 'not connected');
  const text = JSON.stringify(frame);
  log('out', '> ' + text);
  ws.send(text);
}
function connect() {
  if (ws) ws.close();
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('app', $('app').value);
  if ($('token').value) url.searchParams.set('token', $('token').value);
  ws = new WebSocket(url);
  $('status').textContent = 'connecting…';
  ws.onopen = () => { $('status').textContent = 'connected'; };
  ws.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    log(frame.type === 'error' ? 'err' : 'in', '< ' + e.data);
    if (frame.type === 'welcome') send({ type: 'subscribe', id: String(++seq), topics: topicList() });
  };
  ws.onclose = (e) => { $('status').textContent = 'closed (' + e.code + (e.reason ? ' ' + e.reason : '') + ')'; };
}
function topicList() { return $('topics').value.split(/\\s+/).filter(Boolean); }
$('connect').onclick = connect;
$('subscribe').onclick = () => send({ type: 'subscribe', id: String(++seq), topics: topicList() });
$('unsubscribe').onclick = () => send({ type: 'unsubscribe', id: String(++seq), topics: topicList() });
$('publish').onclick = () => {
  let data;
  try { data = JSON.parse($('data').value); } catch { return log('err', 'data is not JSON'); }
  send({ type: 'publish', id: String(++seq), topic: $('topic').value, data });
};
connect();
</script>
</body>
</html>
`;
