/**
 * Waits for a `start` command run as a child process to say where it serves: the URL of its
 * "serving http://..." line on stdout. Rejects, with everything it printed, if the process
 * exits first.
 */
import type { Readable } from 'node:stream';

export interface ServingOptions {
  /** Whether the output so far is complete enough to go on (default: the serving line is there). */
  ready?: (stdout: string) => boolean;
  /** What the process printed on stderr so far, for the rejection's message. */
  stderr?: () => string;
}

export function servingUrl(stdout: Readable, exited: Promise<number | null>, o: ServingOptions = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving (http:\S+)/.exec(out);
      if (m && (o.ready?.(out) ?? true)) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${out}${o.stderr?.() ?? ''}`)));
  });
}
