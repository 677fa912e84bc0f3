/** What the events transports share: how a URL is named in a reason, a bounded wait, a failed call. */
import type { Attempt } from './types.js';

/**
 * A URL as a reason may name it: scheme, host, port and path, without credentials, query or
 * fragment (used by the broker transports too). Something that is not a URL is not quoted.
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(the configured URL)';
  }
}

/**
 * `work`, or a rejection once `ms` pass or `signal` aborts, whichever is first (the work goes
 * on; what it settles to then is dropped). The broker transports bound every wait with it.
 */
export function bounded<T>(work: Promise<T>, ms: number, signal: AbortSignal, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      work.catch(() => undefined);
      reject(new Error(`${what}: aborted (shutting down)`));
      return;
    }
    const stop = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      stop();
      reject(new Error(`${what}: aborted (shutting down)`));
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        stop();
        resolve(v);
      },
      (e: unknown) => {
        stop();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Every event of a call failed, worth retrying, for `reason`. */
export function failAll(n: number, reason: string): Attempt[] {
  return Array.from({ length: n }, () => ({ ok: false, retry: true, reason }));
}
