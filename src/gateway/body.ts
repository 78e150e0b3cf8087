/**
 * Request bodies of the server API (JSON, or raw bytes for binary messages), read with a size limit. Bytes are counted as they
 * arrive and reading stops as soon as the limit is passed, so neither a chunked body (no
 * content-length) nor one whose content-length understates it is buffered past the limit.
 */
import { ErrorCode } from '../protocol/codes.ts';
import { parseJson } from '../lib/json.ts';
import { httpError } from './httpErrors.ts';

/**
 * The request's body parsed as JSON. Throws the HTTP error to answer: 413 `too_large` past
 * `maxBytes` (declared or counted), 400 `invalid_request` when it is not UTF-8 JSON.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const body = await readBodyBytes(request, maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw httpError(400, ErrorCode.InvalidRequest, 'body is not UTF-8');
  }
  const json = parseJson(text);
  if (json === undefined) throw httpError(400, ErrorCode.InvalidRequest, 'body is not valid JSON');
  return json;
}

/**
 * Whether the request's body is raw bytes (`content-type: application/octet-stream`): the
 * data of a binary message (docs/protocol.md, "Binary frames").
 */
export function isOctetStream(request: Request): boolean {
  const type = request.headers.get('content-type');
  return type !== null && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/octet-stream';
}

/** The request's body as bytes; 413 `too_large` past `maxBytes` (declared or counted). */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => httpError(413, ErrorCode.TooLarge, `body exceeds ${maxBytes} bytes`);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        // Not awaited: the answer goes out now; the rest of the upload is not read.
        reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
