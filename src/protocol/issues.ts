/** One line for a valibot issue: `field.path: message`, as error frames and logs show it. */
import type * as v from 'valibot';

export function describeIssue(issue: v.BaseIssue<unknown>): string {
  const path = issue.path?.map((p) => String(p.key)).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
