/** `--help` of a bench script: the script's top comment (its usage), printed without the comment marks. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Prints the first doc comment of the module at `moduleUrl` (a script's `import.meta.url`) and exits 0. */
export function printUsageAndExit(moduleUrl: string): never {
  const doc = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(fileURLToPath(moduleUrl), 'utf8'))?.[1] ?? '';
  process.stdout.write(`${doc.replace(/^ \* ?/gm, '')}\n`);
  process.exit(0);
}
