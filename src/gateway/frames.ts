/** Encoding of server frames. The message frame is on the hot path: built once per topic. */
import { encodeBinaryDirect, encodeBinaryMessage } from '../protocol/binary.ts';
import type { ErrorCode } from '../protocol/codes.ts';
import type { Payload, RpcEnvelope } from '../protocol/envelope.ts';
import type { ErrorFrame, JoinFrame, LeaveFrame, TopicPresence, UnsubscribedFrame, WelcomeFrame } from '../protocol/frames.ts';

/** `data` is JSON text already; splicing it avoids a parse and a re-encode per message. */
export function encodeMessage(topic: string, offset: string, data: string): string {
  return `{"type":"message","topic":${JSON.stringify(topic)},"offset":"${offset}","data":${data}}`;
}

/**
 * The frame of a topic message: JSON text for JSON data, a binary frame (0x01) for bytes.
 * Text and binary messages of a topic share one offset sequence.
 */
export function encodeMessageFrame(topic: string, offset: string, data: Payload): string | Uint8Array {
  return typeof data === 'string' ? encodeMessage(topic, offset, data) : encodeBinaryMessage(topic, offset, data);
}

export function encodeError(id: string | null, code: ErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', id, code, message } satisfies ErrorFrame);
}

/** The ack of unsubscribe (`{id}`) and publish (`{id, offset}`). */
export function encodeAck(ack: { id: string; offset?: string }): string {
  return JSON.stringify({ type: 'ack', ...ack });
}

/**
 * The ack of subscribe. Object.fromEntries defines each topic as an own key (`__proto__`
 * too), where assigning to a plain object would not.
 */
export function encodeSubscribeAck(id: string, offsets: ReadonlyMap<string, string>, recovered: ReadonlyMap<string, boolean> | null): string {
  return JSON.stringify({ type: 'ack', id, offsets: Object.fromEntries(offsets), ...(recovered ? { recovered: Object.fromEntries(recovered) } : {}) });
}

export function encodeWelcome(welcome: Omit<WelcomeFrame, 'type'>): string {
  return JSON.stringify({ type: 'welcome', ...welcome });
}

/** A job reply for the client; `data` is JSON text already. */
export function encodeRpc(envelope: RpcEnvelope): string {
  const id = JSON.stringify(envelope.requestId);
  switch (envelope.reply) {
    case 'result':
      return `{"type":"result","id":${id},"result":${envelope.data}}`;
    case 'progress':
      return `{"type":"progress","id":${id},"data":${envelope.data}}`;
    case 'error':
      return encodeError(envelope.requestId, envelope.code as ErrorCode, envelope.message);
  }
}

/** A fresh resume token for a session with jobs running (see ResumeTokens). */
export function encodeResumeToken(resumeToken: string): string {
  return JSON.stringify({ type: 'resumeToken', resumeToken });
}

export function encodePong(id: string): string {
  return `{"type":"pong","id":${JSON.stringify(id)}}`;
}

/** Topics taken from the session by the server (a refresh that no longer allows them). */
export function encodeUnsubscribed(topics: string[], reason: string): string {
  return JSON.stringify({ type: 'unsubscribed', topics, reason } satisfies UnsubscribedFrame);
}

/** A direct message for its recipient's sessions; `data` is JSON text already. */
export function encodeDirect(messageId: string, from: string | null, data: string): string {
  return `{"type":"direct","messageId":"${messageId}","from":${JSON.stringify(from)},"data":${data}}`;
}

/** The frame of a direct message: JSON text for JSON data, a binary frame (0x02) for bytes. */
export function encodeDirectFrame(messageId: string, from: string | null, data: Payload): string | Uint8Array {
  return typeof data === 'string' ? encodeDirect(messageId, from, data) : encodeBinaryDirect(messageId, from, data);
}

/** The ack of `send` (`{id, messageId}`). */
export function encodeSendAck(id: string, messageId: string): string {
  return JSON.stringify({ type: 'ack', id, messageId });
}

/**
 * The ack of a user presence request. Object.fromEntries defines each user as an own key,
 * where assigning to a plain object would not (`__proto__` is a user ID like any other).
 */
export function encodeOnlineAck(id: string, online: ReadonlyMap<string, boolean>): string {
  return JSON.stringify({ type: 'ack', id, online: Object.fromEntries(online) });
}

// ---- topic presence ------------------------------------------------------------------------

/** A join or leave on a presence topic: built once per event, fanned out natively. */
export function encodePresenceEvent(type: 'join' | 'leave', topic: string, user: string): string {
  return JSON.stringify({ type, topic, user } satisfies JoinFrame | LeaveFrame);
}

/** The ack of a topic presence request. */
export function encodePresenceAck(id: string, presence: TopicPresence): string {
  return JSON.stringify({ type: 'ack', id, presence });
}
