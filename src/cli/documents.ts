/**
 * `inventory-graph documents`: prints the trusted-document manifest (Apollo's persisted query
 * manifest format, src/server/documents.ts) built from documents/*.graphql, for a client or a
 * router to load. `--check` validates every document against the schema instead and prints
 * each problem naming its operation (exit 1); `--manifest FILE` checks a manifest file (one a
 * client generated, say) rather than a directory. Exit codes: 0 fine; 1 a document has a
 * problem; 2 bad flags.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkManifest, DOCUMENTS_DIR, DocumentError, manifestFrom } from '../server/documents.js';
import { createSchema } from '../server/graphql.js';
import { UsageError, type ParsedArgs } from './args.js';

export async function documentsCommand(args: ParsedArgs): Promise<number> {
  const values = args.values as { dir?: string; check?: boolean; manifest?: string };
  if (values.manifest !== undefined && (values.check !== true || values.dir !== undefined))
    throw new UsageError('--manifest FILE goes with --check, without --dir');
  const dir = resolve(values.dir ?? DOCUMENTS_DIR);
  let manifest: unknown;
  try {
    manifest = values.manifest !== undefined ? JSON.parse(readFileSync(values.manifest, 'utf8')) : manifestFrom(dir);
  } catch (e) {
    const problems = e instanceof DocumentError ? e.problems : [`${values.manifest ?? dir}: ${(e as Error).message}`];
    for (const p of problems) process.stderr.write(`${p}\n`);
    return 1;
  }
  if (values.check !== true) {
    process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
    return 0;
  }
  const problems = checkManifest(manifest, createSchema());
  for (const p of problems) process.stderr.write(`${p}\n`);
  if (problems.length > 0) return 1;
  const n = (manifest as { operations: unknown[] }).operations.length;
  process.stdout.write(`${values.manifest ?? dir}: ${n} document${n === 1 ? '' : 's'}, all valid\n`);
  return 0;
}
