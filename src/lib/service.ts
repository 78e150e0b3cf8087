/** The one lifecycle every background service follows; stopped in reverse start order. */
export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}
