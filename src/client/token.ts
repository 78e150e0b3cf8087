/**
 * Reads the expiry of a client token (a compact JWT) without verifying it: the client only
 * needs to know when to ask for a fresh one before the server closes the session (4003).
 */

/** `exp` of the token in epoch milliseconds; null when it has none or is not a readable JWT. */
export function tokenExpiryMs(token: string): number | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims: unknown = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')));
    const exp = typeof claims === 'object' && claims !== null ? (claims as { exp?: unknown }).exp : undefined;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * When to ask for the next token: `marginMs` before expiry, or half-way through what is left
 * when that is shorter (a short-lived token is not refreshed in a loop). Never negative.
 */
export function refreshDelayMs(expiryMs: number, nowMs: number, marginMs: number): number {
  const left = expiryMs - nowMs;
  return Math.max(0, left - Math.min(marginMs, left / 2));
}
