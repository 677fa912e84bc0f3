#!/usr/bin/env node
// The `inventory-graph` command: the compiled JavaScript in dist/ (`npm run build`, which
// `npm install` runs through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('inventory-graph: dist/ is not built: run `npm run build` (or `npm install`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
