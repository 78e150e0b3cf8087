/**
 * A bug in a frame handler costs that frame, not the instance: the client gets `internal`,
 * its session and every other one go on. The bug is planted for one frame (a throwing
 * Session.receive), as the fuzz suite found that nothing caught such a throw before.
 */
import { expect, test } from 'bun:test';
import { Session } from '../../src/gateway/session.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, startGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) {
  test(`${backend}: a throwing frame handler answers internal and the sessions go on`, async () => {
    const gw = await startGateway(backend);
    const original = Session.prototype.receive;
    Session.prototype.receive = function (this: Session, raw: string | ArrayBuffer | Uint8Array) {
      if (typeof raw === 'string' && raw.includes('boom')) throw new Error('planted handler bug');
      return original.call(this, raw);
    };
    try {
      const victim = await WsClient.open(gw.wsUrl(APP_A.id));
      const bystander = await WsClient.open(gw.wsUrl(APP_A.id));
      victim.send({ type: 'ping', id: 'boom' });
      const error = await victim.waitFor((f) => f.type === 'error');
      expect(error).toMatchObject({ code: 'internal', id: null });
      expect(await victim.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(await bystander.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      victim.close();
      bystander.close();
    } finally {
      Session.prototype.receive = original;
      await gw.stop();
    }
  });
}
