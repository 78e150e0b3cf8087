/** The wire contract shared by the gateway, the bridge and the client SDK. */
export * from './codes.ts';
export * from './names.ts';
export * from './offset.ts';
export * from './frames.ts';
export * from './envelope.ts';
export * from './api.ts';
export * from './instance.ts';
export * from './update.ts';
export * from './job.ts';
export * from './binary.ts';
