/** The text of a caught value, for logs and error messages. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
