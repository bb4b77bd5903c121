/**
 * The structured log the serving code writes to: the Powertools logger in Lambda (which this interface
 * matches), a line per entry on stderr under `driftline serve`, a list in tests.
 */

/** Key-value context of one log entry; values must be JSON-serialisable. */
export type LogAttributes = Readonly<Record<string, unknown>>;

/** The logging port (the shape of Powertools' `info(message, ...attributes)`). */
export interface ServingLog {
  info(message: string, ...attributes: LogAttributes[]): void;
  warn(message: string, ...attributes: LogAttributes[]): void;
  error(message: string, ...attributes: LogAttributes[]): void;
}

/** One entry kept by {@link MemoryServingLog}. */
export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: LogAttributes;
}

/** A log that keeps its entries, for tests and for callers that print them later. */
export class MemoryServingLog implements ServingLog {
  readonly entries: LogEntry[] = [];

  info(message: string, ...attributes: LogAttributes[]): void {
    this.entries.push({ level: 'info', message, attributes: Object.assign({}, ...attributes) });
  }

  warn(message: string, ...attributes: LogAttributes[]): void {
    this.entries.push({ level: 'warn', message, attributes: Object.assign({}, ...attributes) });
  }

  error(message: string, ...attributes: LogAttributes[]): void {
    this.entries.push({ level: 'error', message, attributes: Object.assign({}, ...attributes) });
  }
}

/**
 * A log that prints one line per entry through `write` (e.g. stderr):
 * `driftline serve: error: <message> {"key":"value"}`.
 */
export class LineServingLog implements ServingLog {
  readonly #write: (line: string) => void;
  readonly #prefix: string;

  constructor(write: (line: string) => void, prefix = 'driftline serve') {
    this.#write = write;
    this.#prefix = prefix;
  }

  info(message: string, ...attributes: LogAttributes[]): void {
    this.#line('info', message, Object.assign({}, ...attributes));
  }

  warn(message: string, ...attributes: LogAttributes[]): void {
    this.#line('warn', message, Object.assign({}, ...attributes));
  }

  error(message: string, ...attributes: LogAttributes[]): void {
    this.#line('error', message, Object.assign({}, ...attributes));
  }

  #line(level: string, message: string, attributes: LogAttributes): void {
    const context = Object.keys(attributes).length === 0 ? '' : ` ${safeJson(attributes)}`;
    this.#write(`${this.#prefix}: ${level}: ${message}${context}\n`);
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
  } catch {
    return '{}';
  }
}
