/**
 * Publishing through a server's HTTP API instead of a WebSocket session: each publish is one
 * `POST {"topic","data"}` (Bun's fetch keeps the connections alive and reuses them), and
 * counts as acknowledged when the answer is a 2xx. Switchyard's is
 * `POST /api/apps/<app>/publish` with the app's secret as a bearer token; the Socket.IO
 * peer's is the bench server's `POST /publish`.
 */
import type { PublishChannel } from './publishers.ts';

export class HttpPublishChannel implements PublishChannel {
  private readonly headers: Record<string, string>;

  constructor(private readonly url: string, authorization: string | undefined) {
    this.headers = { 'content-type': 'application/json' };
    if (authorization !== undefined) this.headers.authorization = authorization;
  }

  /**
   * `data` is JSON text already; bytes go as an application/octet-stream body with the topic
   * in the query. Rejects on a transport error or a non-2xx answer.
   */
  async publish(topic: string, data: string | Uint8Array): Promise<void> {
    const res =
      typeof data === 'string'
        ? await fetch(this.url, { method: 'POST', headers: this.headers, body: `{"topic":${JSON.stringify(topic)},"data":${data}}` })
        : await fetch(`${this.url}?topic=${encodeURIComponent(topic)}`, { method: 'POST', headers: { ...this.headers, 'content-type': 'application/octet-stream' }, body: data as Uint8Array<ArrayBuffer> });
    // Reading the body to its end frees the connection for the next request.
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  }

  /** Nothing to close: fetch's idle connections close with the worker. */
  close(): void {}
}
