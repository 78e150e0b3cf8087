/** Encoding of server frames. The message frame is on the hot path: built once per topic. */
import type { ErrorCode } from '../protocol/codes.ts';
import type { AckFrame, ErrorFrame, WelcomeFrame } from '../protocol/frames.ts';

/** `data` is JSON text already; splicing it avoids a parse and a re-encode per message. */
export function encodeMessage(topic: string, offset: string, data: string): string {
  return `{"type":"message","topic":${JSON.stringify(topic)},"offset":"${offset}","data":${data}}`;
}

export function encodeError(id: string | null, code: ErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', id, code, message } satisfies ErrorFrame);
}

export function encodeAck(ack: Omit<AckFrame, 'type'>): string {
  return JSON.stringify({ type: 'ack', ...ack });
}

export function encodeWelcome(welcome: Omit<WelcomeFrame, 'type'>): string {
  return JSON.stringify({ type: 'welcome', ...welcome });
}

export function encodePong(id: string): string {
  return `{"type":"pong","id":${JSON.stringify(id)}}`;
}
