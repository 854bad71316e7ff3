/** Reading a child's output line by line (vigil's JSON log, the drivers' and client loops' JSON lines). */
import type { Readable } from 'node:stream';

/**
 * Calls `onLine` for each complete non-blank line of `stream`, then `afterChunk` once per
 * chunk (to wake whoever waits on what the lines added).
 */
export function onLines(stream: Readable | null | undefined, onLine: (line: string) => void, afterChunk?: () => void): void {
  if (!stream) return;
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
    afterChunk?.();
  });
}
