/**
 * The data of a bench message, as every sender writes it (publishers.ts, the AMQP update
 * publisher and RPC driver) and every latency probe reads it (the load workers' subscribers,
 * the bare AMQP consumer): its send time `t` (clock.ts, comparable across processes), `m: 1`
 * when it was sent during a measured interval, and a pad that brings it to about
 * --payload-bytes.
 */
import { nowMs } from './clock.ts';

/** Pads a payload so that every scenario's messages have roughly `payloadBytes` of data. */
export function padding(payloadBytes: number): string {
  // 40 characters cover the fields around the pad: {"t":1795240146336.555,"m":1,"pad":""}.
  return 'x'.repeat(Math.max(0, payloadBytes - 40));
}

/** `{"t":…,"m":…,"pad":…}` as JSON text, stamped now. */
export function stampedData(measured: boolean, pad: string): string {
  return `{"t":${nowMs()},"m":${measured ? 1 : 0},"pad":"${pad}"}`;
}

/** The send time of a message (JSON text with the stamped data under `data`) sent while measured; undefined for the others. */
export function measuredSendTime(json: string): number | undefined {
  const data = (JSON.parse(json) as { data?: { t?: unknown; m?: unknown } }).data;
  return data?.m === 1 && typeof data.t === 'number' ? data.t : undefined;
}
