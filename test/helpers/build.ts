/**
 * vitest's global setup: the tests that run `bin/inventory-graph.mjs` run the compiled code in
 * dist/, so it is rebuilt (`npm run build`) first whenever a source is newer than the last
 * build. One test file run after an edit tests the edit, as `npm test` does.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}

function builtAt(): number {
  try {
    return statSync(join(ROOT, 'dist', '.built')).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): void {
  const inputs = ['src', 'resolvers', 'schema', 'documents', 'scripts/build.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
  if (Math.max(...inputs.map((p) => newest(join(ROOT, p)))) <= builtAt()) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
}
