/** Public entry of the client SDK. */
export { SwitchyardClient, RequestError, type ClientOptions, type ClientEvents, type ClientState, type RpcOptions } from './client.ts';
export { CloseCode, ErrorCode, shouldReconnect } from '../protocol/codes.ts';
export type { MessageFrame } from '../protocol/frames.ts';
