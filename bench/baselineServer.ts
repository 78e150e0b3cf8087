/**
 * The baseline: a bare Bun.serve pub/sub server speaking the minimal frames the load
 * generator uses (welcome on open, subscribe -> ack, publish -> ack with an offset, message
 * frames via the runtime's native topic publish). It is what Bun alone can do on this
 * machine; Switchyard's figures are reported as ratios to it. No validation, no history, no
 * limits beyond the WebSocket options Switchyard also sets, so the two differ only by the
 * gateway's own work.
 *
 * Env: PORT, HOST.
 */
let offset = 0;

const server = Bun.serve({
  hostname: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  fetch(req, srv) {
    if (srv.upgrade(req)) return undefined;
    return new Response('ok');
  },
  websocket: {
    // The same options as src/gateway/bun.ts, so that both servers buffer and drop alike.
    maxPayloadLength: 128 * 1024,
    backpressureLimit: 4 * 1024 * 1024,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    perMessageDeflate: false,
    publishToSelf: false,
    open(ws) {
      ws.send('{"type":"welcome","sessionId":"s","instanceId":"baseline","userId":null}');
    },
    message(ws, raw) {
      const frame = JSON.parse(String(raw)) as { type: string; id: string; topics?: string[]; topic?: string; data?: unknown };
      if (frame.type === 'subscribe') {
        for (const topic of frame.topics ?? []) ws.subscribe(topic);
        ws.send(`{"type":"ack","id":${JSON.stringify(frame.id)}}`);
      } else if (frame.type === 'publish' && frame.topic !== undefined) {
        const at = `${Date.now()}-${offset++}`;
        server.publish(frame.topic, `{"type":"message","topic":${JSON.stringify(frame.topic)},"offset":"${at}","data":${JSON.stringify(frame.data)}}`);
        ws.send(`{"type":"ack","id":${JSON.stringify(frame.id)},"offset":"${at}"}`);
      }
    },
  },
});

// Exit with the harness even if it dies without stopping us (we are then re-parented).
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 1000).unref();

process.on('SIGTERM', () => {
  void server.stop(true).then(() => process.exit(0));
});
