/** A daemon refusal or failure whose message names what and where (the instance, the file position). */
export class DaemonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}
