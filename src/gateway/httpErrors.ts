/** The JSON error body every HTTP endpoint answers with: `{"error":{"code","message"}}`. */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../protocol/codes.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function httpError(status: ContentfulStatusCode, code: ErrorCode, message: string): HTTPException {
  const body: ErrorBody = { error: { code, message } };
  return new HTTPException(status, { res: Response.json(body, { status }) });
}
