/**
 * Public entry of the client SDK: the package export `switchyard/client` (built into dist/ by
 * `bun run build`; see docs/client.md). Everything an app needs, and nothing of the server.
 */
export {
  SwitchyardClient,
  RequestError,
  type ClientOptions,
  type ClientEvents,
  type ClientState,
  type DirectMessage,
  type Message,
  type MessageHandler,
  type PresenceEvent,
  type RpcOptions,
  type StateDetail,
  type Unsubscribe,
} from './client.ts';
export { CloseCode, ErrorCode, shouldReconnect } from '../protocol/codes.ts';
export type { MessageFrame, PresenceMember, TopicPresence } from '../protocol/frames.ts';
