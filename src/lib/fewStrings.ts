/**
 * A set of strings that usually holds one: null when empty, the string itself when it holds
 * one, a Set from the second on. A Set costs about 250 bytes even with one entry, and some
 * holders exist by the hundred thousand (a session's topics, a topic's routes in memory).
 * The functions return the new value; the holder stores it.
 */
export type FewStrings = string | Set<string> | null;

export function fewHas(few: FewStrings, value: string): boolean {
  return few === value || (typeof few === 'object' && few !== null && few.has(value));
}

export function fewSize(few: FewStrings): number {
  return few === null ? 0 : typeof few === 'string' ? 1 : few.size;
}

export function fewAdd(few: FewStrings, value: string): FewStrings {
  if (few === null) return value;
  if (typeof few === 'string') return few === value ? few : new Set([few, value]);
  few.add(value);
  return few;
}

/** Without `value`; a set left with one string becomes that string again, an empty one null. */
export function fewDelete(few: FewStrings, value: string): FewStrings {
  if (few === value) return null;
  if (typeof few !== 'object' || few === null) return few;
  few.delete(value);
  if (few.size === 1) return few.values().next().value!;
  return few.size === 0 ? null : few;
}

export function fewValues(few: FewStrings): Iterable<string> {
  return few === null ? [] : typeof few === 'string' ? [few] : few;
}
