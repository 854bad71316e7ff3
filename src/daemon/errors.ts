/** The text of a caught value, for logs and error messages. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A daemon refusal or failure whose message names what and where (the instance, the file position). */
export class DaemonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}
