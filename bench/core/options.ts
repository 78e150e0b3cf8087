/**
 * The options core of `bun run bench`: how a family of scenarios declares its flags (an
 * OptionGroup of sizes and choices, with its lines of --help) and its scenarios (a
 * ScenarioFamily), and the one parser that turns the command line into frozen options from
 * every family's declarations. Defaults are a full run's sizes; --quick swaps in a group's
 * small ones; any explicit flag wins over both.
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

/** A flag that takes one of a few words. */
export interface Choice {
  /** The option it sets. */
  readonly key: string;
  readonly values: readonly string[];
  readonly default: string;
}

/** The flags of one group: sizes (each a positive number) and choices. */
export interface OptionGroup<S> {
  /** The sizes of a full run. */
  readonly full: S;
  /** What --quick changes. */
  readonly quick?: Partial<S>;
  /** Flag name -> the size it sets. */
  readonly sizeFlags: Readonly<Record<string, keyof S & string>>;
  /** Sizes measured in fractions (seconds, rates); the others are counts and take integers. */
  readonly fractional?: readonly (keyof S & string)[];
  /** A size whose flag was not given takes the value of another size (e.g. one topic per session). */
  readonly sameAs?: Partial<Record<keyof S & string, keyof S & string>>;
  /** Flag name -> what it sets. */
  readonly choices?: Readonly<Record<string, Choice>>;
  /** Its lines of --help. */
  readonly usage: string;
}

/** An OptionGroup, whatever its sizes: what the parser reads of it. */
type AnyOptionGroup = Omit<OptionGroup<object>, 'full' | 'quick' | 'sizeFlags' | 'fractional' | 'sameAs'> & {
  readonly full: object;
  readonly quick?: object;
  readonly sizeFlags: Readonly<Record<string, string>>;
  readonly fractional?: readonly string[];
  readonly sameAs?: Readonly<Record<string, string | undefined>>;
};

/** A family's scenarios, as the harness needs to know them before running any. */
export interface ScenarioFamily<Name extends string, O> {
  /** In the order they run and report. */
  readonly scenarios: readonly Name[];
  /** Whether they run when no --scenario names them (those that need Redis or RabbitMQ do not). */
  readonly byDefault: boolean;
  /** Names that stand for several of its scenarios (`cluster`). */
  readonly aliases?: Readonly<Record<string, readonly Name[]>>;
  /** The sessions the busiest process of one round holds at once: the open files it needs. */
  sessions(scenario: Name, o: O): number;
  /** Generous upper bound of one round in seconds, for the watchdog only. */
  roundBudgetSec(scenario: Name, o: O): number;
}

/** What every run has besides its groups' sizes and choices. */
export interface RunSelection<Scenario extends string, Server extends string> {
  readonly scenarios: readonly Scenario[];
  readonly servers: readonly Server[];
  readonly quick: boolean;
}

/** Names from repeated or comma-separated flag values, in `allowed`'s order; `all` is every one. */
function list<T extends string>(values: readonly string[] | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (!values || values.length === 0) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  if (names.includes('all')) return [...allowed];
  for (const name of names) {
    if (!(allowed as readonly string[]).includes(name)) throw new UsageError(`--${flag}: unknown ${JSON.stringify(name)}; one of ${allowed.join(', ')}`);
  }
  return allowed.filter((a) => names.includes(a));
}

/** A positive number for `flag`; an integer unless `fractional`. */
function positive(flag: string, raw: string, fractional: boolean): number {
  const n = Number(raw);
  if (Number.isFinite(n) && n > 0 && (fractional || Number.isInteger(n))) return n;
  throw new UsageError(`--${flag}: expected a positive ${fractional ? 'number' : 'integer'}, got ${JSON.stringify(raw)}`);
}

/**
 * Parses `argv` against every group's flags and every family's scenarios. Returns null when
 * --help was asked for; throws UsageError on a bad flag. `O` is what the groups and the
 * selection add up to; the caller names it, since the groups are declared apart.
 */
export function parseOptions<O extends RunSelection<string, string>>(
  argv: readonly string[],
  groups: readonly AnyOptionGroup[],
  families: readonly ScenarioFamily<string, never>[],
  servers: readonly O['servers'][number][],
): O | null {
  const stringFlags = groups.flatMap((g) => [...Object.keys(g.sizeFlags), ...Object.keys(g.choices ?? {})]);
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        ...Object.fromEntries(stringFlags.map((flag) => [flag, { type: 'string' as const }])),
        scenario: { type: 'string', multiple: true },
        servers: { type: 'string', multiple: true },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return null;
  const quick = values.quick === true;

  const options: Record<string, unknown> = {};
  for (const group of groups) {
    const sizes = { ...group.full, ...(quick ? group.quick : {}) } as Record<string, number>;
    const given = new Set<string>();
    for (const [flag, key] of Object.entries(group.sizeFlags)) {
      const raw = values[flag];
      if (typeof raw !== 'string') continue;
      sizes[key] = positive(flag, raw, group.fractional?.includes(key) ?? false);
      given.add(key);
    }
    for (const [key, source] of Object.entries(group.sameAs ?? {})) {
      if (source !== undefined && !given.has(key)) sizes[key] = sizes[source]!;
    }
    Object.assign(options, sizes);
  }
  for (const group of groups) {
    for (const [flag, choice] of Object.entries(group.choices ?? {})) {
      const raw = values[flag];
      if (typeof raw === 'string' && !choice.values.includes(raw)) throw new UsageError(`--${flag}: expected ${choice.values.join(' or ')}, got ${JSON.stringify(raw)}`);
      options[choice.key] = typeof raw === 'string' ? raw : choice.default;
    }
  }

  const scenarios = families.flatMap((f) => f.scenarios);
  const aliases: Record<string, readonly string[]> = Object.assign({}, ...families.map((f) => f.aliases ?? {}));
  const named = (values.scenario as string[] | undefined)?.flatMap((v) => v.split(',')).flatMap((n) => aliases[n.trim()] ?? [n]);
  return Object.freeze({
    ...options,
    quick,
    scenarios: list(named, scenarios, 'scenario') ?? families.filter((f) => f.byDefault).flatMap((f) => f.scenarios),
    servers: list(values.servers as string[] | undefined, servers, 'servers') ?? [...servers],
  }) as unknown as O;
}

/** The --help text: the groups' lines, in order. */
export function usage(groups: readonly AnyOptionGroup[]): string {
  return groups.map((g) => g.usage).join('\n');
}
