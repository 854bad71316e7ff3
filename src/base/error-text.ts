/** The text of a thrown value, for logs and messages: an Error's message, else the value as a string. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The same with the stack trace where there is one, for a crash report. */
export function errorStackText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
