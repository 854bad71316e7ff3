/**
 * What the agents share: building OperationResults and a deadline around an operation (so
 * that it resolves within its timeout and never rejects). Short-lived programs (an OCF
 * agent, systemctl) run through src/os/process-group.ts.
 */
import { constants as osConstants } from 'node:os';
import { errorText } from '../../base/error-text.js';
import { since } from '../../os/elapsed.js';
import { OCF, type OcfCode, type OperationResult } from '../types.js';

export function now(): bigint {
  return process.hrtime.bigint();
}

export function result(rc: OcfCode, detail: string, start: bigint, timedOut = false): OperationResult {
  return { rc, timedOut, detail, elapsedMs: since(start) };
}

/** "20 s", "500 ms". */
export function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${Math.round(ms)} ms`;
}

/** The OCF code's name, for details ("exit 7 (NOT_RUNNING)"). */
export function ocfName(rc: number): string {
  for (const [name, value] of Object.entries(OCF)) if (value === rc) return name;
  return 'unknown code';
}

/** The last non-empty line of a text, trimmed and cut to 300 characters. */
export function lastLine(text: string): string | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim();
    if (line.length > 0) return line.length > 300 ? `${line.slice(0, 297)}...` : line;
  }
  return undefined;
}

/**
 * Runs `body` with a deadline: resolves with its result, or with ERR_GENERIC timedOut at
 * `timeoutMs` (after `onTimeout`), or with ERR_GENERIC naming the error if it throws.
 */
export async function guarded(what: string, timeoutMs: number, body: (start: bigint) => Promise<OperationResult>, onTimeout?: () => void): Promise<OperationResult> {
  const start = now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<OperationResult>((resolve) => {
    timer = setTimeout(() => {
      try {
        onTimeout?.();
      } catch {
        // a cleanup that fails must not turn a timeout into a rejection
      }
      resolve(result(OCF.ERR_GENERIC, `${what}: timed out after ${formatMs(timeoutMs)}`, start, true));
    }, Math.max(0, timeoutMs));
  });
  const work = (async (): Promise<OperationResult> => {
    try {
      return await body(start);
    } catch (e) {
      return result(OCF.ERR_GENERIC, `${what}: ${errorText(e)}`, start);
    }
  })();
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function signalNumber(signal: NodeJS.Signals): number | undefined {
  return (osConstants.signals as Record<string, number | undefined>)[signal];
}
