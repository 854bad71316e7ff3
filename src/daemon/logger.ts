/**
 * One structured line per event on stdout (journald adds the timestamp under systemd):
 * `text` is `event key=value ...`, `json` is one JSON object per line.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined | readonly string[]>>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

function textValue(v: unknown): string {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return /^[A-Za-z0-9_.:\/@+-]*$/.test(s) && s.length > 0 ? s : JSON.stringify(s);
}

export function createLogger(format: 'text' | 'json', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return {
    log(level, event, fields = {}) {
      const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
      if (format === 'json') {
        write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...Object.fromEntries(defined) })}\n`);
        return;
      }
      const parts = defined.map(([k, v]) => `${k}=${textValue(v)}`);
      write(`${level.toUpperCase().padEnd(5)} ${event}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}\n`);
    },
  };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { readonly lines: { level: LogLevel; event: string; fields: LogFields }[] } {
  const lines: { level: LogLevel; event: string; fields: LogFields }[] = [];
  return { lines, log: (level, event, fields = {}) => lines.push({ level, event, fields }) };
}
