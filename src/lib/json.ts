/**
 * JSON.parse that answers undefined instead of throwing (no JSON text parses to undefined),
 * for input that is validated next anyway.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
