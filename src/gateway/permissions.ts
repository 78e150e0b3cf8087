/**
 * What a session may do with topics, decided from its token: the `subscribe` and `publish`
 * claims (topic patterns, compiled once per token into TopicPatterns), the token's expiry,
 * and user-limited topics (`dialog#alice,bob`), which only the users they name may subscribe,
 * whatever the token says.
 */
import * as v from 'valibot';
import { TopicPatternSchema } from '../protocol/names.ts';
import { describeIssue } from '../protocol/issues.ts';

/** More patterns than this in one claim is a token mistake, not a permission set. */
export const MAX_PATTERNS_PER_CLAIM = 1000;

const PatternListSchema = v.pipe(v.array(TopicPatternSchema), v.maxLength(MAX_PATTERNS_PER_CLAIM, `at most ${MAX_PATTERNS_PER_CLAIM} patterns`));

/** The permission claims of a client token; absent means "what the app allows". */
export const PermissionClaimsSchema = v.object({
  subscribe: v.optional(PatternListSchema),
  publish: v.optional(PatternListSchema),
});

/**
 * A compiled list of topic patterns: a Set of exact names and a sorted list of prefixes (from
 * `prefix*`), none of which starts with another (a longer one adds nothing). In such a list
 * the only prefix that can match a topic is the greatest one not above it in sort order: any
 * prefix between a matching one and the topic would start with the matching one. So a check
 * is one Set lookup and one binary search, however many patterns the token carries.
 */
export class TopicPatterns {
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];

  constructor(patterns: readonly string[]) {
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const pattern of patterns) {
      if (pattern.endsWith('*')) prefixes.push(pattern.slice(0, -1));
      else exact.add(pattern);
    }
    prefixes.sort();
    const kept: string[] = [];
    for (const prefix of prefixes) {
      // Sorted: a shorter prefix that covers this one is the last kept, if any.
      const last = kept[kept.length - 1];
      if (last === undefined || !prefix.startsWith(last)) kept.push(prefix);
    }
    this.exact = exact;
    this.prefixes = kept;
  }

  allows(topic: string): boolean {
    if (this.exact.has(topic)) return true;
    const prefixes = this.prefixes;
    let lo = 0;
    let hi = prefixes.length - 1;
    let candidate = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (prefixes[mid]! <= topic) {
        candidate = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return candidate >= 0 && topic.startsWith(prefixes[candidate]!);
  }
}

/** What a token grants a session; replaced whole by a refresh. */
export interface Grant {
  /** Topics the session may subscribe; null: every topic of the app. */
  subscribe: TopicPatterns | null;
  /** Topics the session may publish to (where the app allows client publish); null: every topic. */
  publish: TopicPatterns | null;
  /** When the token stops being accepted (its `exp` plus the clock skew); null: never. */
  expiresAtMs: number | null;
}

/** Anonymous sessions and tokens without claims or `exp`. */
export const OPEN_GRANT: Grant = Object.freeze({ subscribe: null, publish: null, expiresAtMs: null });

/** The grant of verified claims, or why the permission claims are not valid. */
export function grantOf(claims: Record<string, unknown>, expiresAtMs: number | null): Grant | string {
  if (claims.subscribe === undefined && claims.publish === undefined) return expiresAtMs === null ? OPEN_GRANT : { ...OPEN_GRANT, expiresAtMs };
  const parsed = v.safeParse(PermissionClaimsSchema, { subscribe: claims.subscribe, publish: claims.publish });
  if (!parsed.success) return `token permission claims: ${describeIssue(parsed.issues[0])}`;
  const { subscribe, publish } = parsed.output;
  return {
    subscribe: subscribe ? new TopicPatterns(subscribe) : null,
    publish: publish ? new TopicPatterns(publish) : null,
    expiresAtMs,
  };
}

/**
 * Whether `userId` may subscribe `topic` as far as user limits go: a topic with a `#` names,
 * after its last `#`, the comma-separated users who may (`dialog#alice,bob`); anonymous
 * sessions may not subscribe any of them. Topics without `#` are not user-limited.
 */
export function userMaySubscribe(topic: string, userId: string | null): boolean {
  const hash = topic.lastIndexOf('#');
  if (hash < 0) return true;
  if (userId === null || userId === '') return false;
  // Topic characters cannot form every user ID; a user whose ID cannot be written here is never listed.
  let start = hash + 1;
  for (;;) {
    const comma = topic.indexOf(',', start);
    const end = comma < 0 ? topic.length : comma;
    if (end - start === userId.length && topic.startsWith(userId, start)) return true;
    if (comma < 0) return false;
    start = comma + 1;
  }
}

/** The first of `topics` this session may not subscribe, or undefined when it may subscribe them all. */
export function refusedSubscribe(grant: Grant, userId: string | null, topics: readonly string[]): string | undefined {
  const patterns = grant.subscribe;
  return topics.find((topic) => (patterns !== null && !patterns.allows(topic)) || !userMaySubscribe(topic, userId));
}
