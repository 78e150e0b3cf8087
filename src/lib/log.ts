/** Structured logs: one JSON object per line on stdout, filtered by level. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export function createLogger(level: Level, base: Fields = {}, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Logger {
  const min = RANK[level];
  const emit = (lvl: Level, msg: string, fields?: Fields) => {
    if (RANK[lvl] < min) return;
    const record: Fields = { t: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) for (const key in fields) record[key] = errorFields(fields[key]);
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}

/** A logger that drops everything; for tests and library defaults. */
export const silentLogger: Logger = createLogger('error', {}, () => {});
