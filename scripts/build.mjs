// `npm run build` (and `npm install`, through `prepare`): compiles src/ and resolvers/ to dist/,
// then copies what the compiled server reads at run time beside it, two directories up from the
// modules that read them: the SDL (src/server/graphql.ts: dist/schema) and the trusted documents
// (src/server/documents.ts: dist/documents). The explorer's assets come from node_modules and
// the demo's files are written by code: nothing else to copy.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
} catch {
  process.exit(1);
}
for (const dir of ['schema', 'documents']) cpSync(join(root, dir), join(dist, dir), { recursive: true });
// written last: test/helpers/build.ts compares the sources with it (a failed build leaves none)
writeFileSync(join(dist, '.built'), `${new Date().toISOString()}\n`);
