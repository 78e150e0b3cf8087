/**
 * The baseline: a bare Bun.serve pub/sub server speaking the minimal frames the load
 * generator uses (welcome on open, subscribe -> ack, publish -> ack with an offset, message
 * frames via the runtime's native topic publish; a binary publish frame (0x11) is published
 * as a binary message frame (0x01) with the same bytes, see src/protocol/binary.ts). It is
 * what Bun alone can do on this machine; Switchyard's figures are reported as ratios to it.
 * No validation, no history, no limits beyond the WebSocket options Switchyard also sets, so
 * the two differ only by the gateway's own work.
 *
 * Env: PORT, HOST.
 */
import { encodeBinaryMessage } from '../src/protocol/binary.ts';

let offset = 0;
const latin1 = new TextDecoder('latin1');

/**
 * A binary publish (0x11: u8 idLen | id | u16 topicLen | topic | payload), read without any
 * check: the load generator sends well-formed frames with ASCII names.
 */
function publishBinary(ws: { send(data: string): unknown }, frame: Uint8Array): void {
  const idEnd = 2 + frame[1]!;
  const id = latin1.decode(frame.subarray(2, idEnd));
  const topicEnd = idEnd + 2 + ((frame[idEnd]! << 8) | frame[idEnd + 1]!);
  const topic = latin1.decode(frame.subarray(idEnd + 2, topicEnd));
  const at = `${Date.now()}-${offset++}`;
  server.publish(topic, encodeBinaryMessage(topic, at, frame.subarray(topicEnd)));
  ws.send(`{"type":"ack","id":${JSON.stringify(id)},"offset":"${at}"}`);
}

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
      if (typeof raw !== 'string') {
        publishBinary(ws, raw);
        return;
      }
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
