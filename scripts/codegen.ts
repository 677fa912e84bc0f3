/**
 * `npm run codegen` writes src/generated/graphql.ts from schema/*.graphql as codegen.yml says;
 * `npm run codegen:check` (part of `npm test`) fails when that file is out of date.
 *
 * GraphQL Code Generator through its programmatic API (@graphql-codegen/core and the plugins
 * codegen.yml names), with the schema merged and sorted by name as its CLI loads it. The CLI is
 * not used: its loaders (URL, git, GitHub, Apollo Engine) pull in packages that need Node 22.
 */
import { codegen } from '@graphql-codegen/core';
import * as add from '@graphql-codegen/add';
import * as typescript from '@graphql-codegen/typescript';
import * as typescriptResolvers from '@graphql-codegen/typescript-resolvers';
import type { CodegenPlugin, Types } from '@graphql-codegen/plugin-helpers';
import { filterSchema, getDocumentNodeFromSchema } from '@graphql-tools/utils';
import { GraphQLError, Source, concatAST, lexicographicSortSchema, parse as parseGraphQL } from 'graphql';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { subgraphSchema } from '../src/server/federation.js';

const ROOT = join(import.meta.dirname, '..');
const PLUGINS: Record<string, CodegenPlugin> = { add, typescript, 'typescript-resolvers': typescriptResolvers };

/** The part of codegen.yml this script understands; anything else is refused rather than ignored. */
interface CodegenYml {
  overwrite?: boolean;
  schema: string;
  generates: Record<string, { plugins: Types.ConfiguredPlugin[] | string[]; config?: Record<string, unknown> }>;
}

async function main(check: boolean): Promise<number> {
  const yml = parse(readFileSync(join(ROOT, 'codegen.yml'), 'utf8')) as CodegenYml;
  const unknown = Object.keys(yml).filter((k) => !['overwrite', 'schema', 'generates'].includes(k));
  const glob = /^([\w./-]+)\/\*\.graphql$/.exec(yml.schema);
  if (unknown.length > 0 || glob === null) {
    process.stderr.write(
      `codegen.yml: this script reads \`schema: dir/*.graphql\` and \`generates\` only (got ${[...unknown, `schema: ${yml.schema}`].join(', ')})\n`,
    );
    return 2;
  }
  const dir = join(ROOT, glob[1] as string);
  const typeDefs = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => parseGraphQL(new Source(readFileSync(join(dir, f), 'utf8'), join(glob[1] as string, f))));
  // built as the server builds it (a federation subgraph: src/server/federation.ts), then
  // sorted by name as the CLI's loader does it; without what the subgraph adds for the router
  // (`_entities`, `_service` and their types), which typescript-resolvers' `federation` option
  // types itself (`__resolveReference`) and would otherwise emit half of
  const subgraph = subgraphSchema(concatAST(typeDefs));
  const schemaAst = lexicographicSortSchema(
    filterSchema({
      schema: subgraph,
      rootFieldFilter: (_, field) => field !== '_entities' && field !== '_service',
      typeFilter: (name) => !['_Service', '_Entity', '_Any'].includes(name),
    }),
  );
  const stale: string[] = [];
  for (const [file, output] of Object.entries(yml.generates)) {
    const plugins = output.plugins.map((p): Types.ConfiguredPlugin => (typeof p === 'string' ? { [p]: {} } : p));
    const missing = plugins.map((p) => Object.keys(p)[0] as string).filter((name) => PLUGINS[name] === undefined);
    if (missing.length > 0) {
      process.stderr.write(`codegen.yml: ${file}: plugin ${missing.join(', ')} is not installed in scripts/codegen.ts\n`);
      return 2;
    }
    const content = await codegen({
      filename: file,
      schema: getDocumentNodeFromSchema(schemaAst),
      schemaAst,
      documents: [],
      plugins,
      pluginMap: PLUGINS,
      config: { ...output.config, emitLegacyCommonJSImports: true, importExtension: '' },
      emitLegacyCommonJSImports: true,
      importExtension: '',
    });
    const path = join(ROOT, file);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === content) continue;
    if (check) stale.push(file);
    else {
      writeFileSync(path, content);
      process.stdout.write(`codegen: wrote ${file}\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(`codegen: ${stale.join(', ')} out of date with ${yml.schema}: run \`npm run codegen\`\n`);
    return 1;
  }
  return 0;
}

const args = process.argv.slice(2);
if (args.some((a) => a !== '--check')) {
  process.stderr.write('usage: tsx scripts/codegen.ts [--check]\n');
  process.exitCode = 2;
} else {
  process.exitCode = await main(args.includes('--check')).catch((e: unknown) => {
    // a mistake in the SDL: the file, line and column, without a stack
    if (!(e instanceof GraphQLError)) throw e;
    process.stderr.write(`codegen: ${e.toString()}\n`);
    return 1;
  });
}
