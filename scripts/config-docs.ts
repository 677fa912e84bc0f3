/**
 * Rewrites the generated key table of docs/configuration.md from the config schema
 * (`npm run docs:config`); test/unit/config-docs.test.ts fails when the committed copy differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { withReference } from '../src/config/reference.js';

const file = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(file, withReference(readFileSync(file, 'utf8')));
