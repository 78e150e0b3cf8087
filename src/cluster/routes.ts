/**
 * Topic routes: which instances have local subscribers of an (app, topic). A publish goes
 * to those instances' inboxes only, never to every instance.
 */
export interface TopicRoutes {
  add(app: string, topic: string, instanceId: string): Promise<void>;
  remove(app: string, topic: string, instanceId: string): Promise<void>;
  instancesFor(app: string, topic: string): Promise<string[]>;
}
