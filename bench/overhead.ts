/**
 * Where the gateway's CPU goes beyond the floor's, without I/O: the availability operation
 * answered in-process from a stub domain (fixed figures, 9 locations per SKU), three ways:
 *
 * - `apollo`: the shipped server (`createGraphQLServer`: Apollo's pipeline and our plugins,
 *   graphql-jit executor, or graphql-js), request to response string;
 * - `jit direct`: the same compiled operation called directly, then `JSON.stringify`: what a
 *   fast path that bypassed Apollo for known operations could reach at best;
 * - `hand-written`: the floor's mapping of the same objects, then `JSON.stringify`.
 *
 *   npx tsx bench/overhead.ts [--no-record]
 *
 * Appends its table to bench/RESULTS.md. Single process, µs per request, best of 3 rounds.
 */
import { HeaderMap } from '@apollo/server';
import { parse } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { appendFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Availability } from '../src/domain/availability.js';
import type { Location } from '../src/domain/locations.js';
import { createLogger } from '../src/logger.js';
import { createDiagnostics } from '../src/server/diagnostics.js';
import { createGraphQLServer, createSchema } from '../src/server/graphql.js';
import { DEFAULT_LIMITS } from '../src/server/limits.js';
import { AVAILABILITY } from './lib/scenarios.js';

const location = (i: number): Location => ({ id: `L${i}`, name: `L${i}`, codes: {}, latitude: null, longitude: null, priority: 1, channels: null, sellable: true, safetyStock: 0 });
const availability = (sku: string): Availability => ({
  sku, known: true, available: 10, onHand: 12, committed: 2, safetyStock: 0, flags: ['STALE'],
  byLocation: Array.from({ length: 9 }, (_, i) => ({
    location: location(i), onHand: 5, committed: 1, safetyStock: 0, available: 4, counted: true, flags: [],
    provenance: { source: 'wms', asOf: new Date(), stale: false, fallback: false, rule: 'quantity: wms > tpl > erp' },
  })),
});
const context = () =>
  ({
    requestId: 'bench', principal: { name: 'bench', role: 'admin' }, sources: [], reconciliation: {}, anomalyWorkflow: {},
    diagnostics: { ...createDiagnostics(), statements: new Map([['wms/stock', 1]]) },
    inventory: { availability: async (skus: string[]) => skus.map(availability) },
  }) as never;
const handWritten = (a: Availability[]) =>
  JSON.stringify({
    data: {
      availability: a.map((x) => ({
        sku: x.sku, available: x.available, onHand: x.onHand, committed: x.committed, safetyStock: x.safetyStock, flags: x.flags,
        byLocation: x.byLocation.map((l) => ({
          location: { id: l.location.id }, onHand: l.onHand, committed: l.committed, safetyStock: l.safetyStock, available: l.available, counted: l.counted, flags: l.flags,
          provenance: { source: l.provenance.source, asOf: l.provenance.asOf?.toISOString() ?? null, stale: l.provenance.stale, fallback: l.provenance.fallback, rule: l.provenance.rule },
        })),
      })),
    },
  });

async function perRequest(f: () => Promise<unknown>, n: number): Promise<number> {
  for (let i = 0; i < Math.min(200, n); i++) await f();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    best = Math.min(best, ((performance.now() - t) * 1000) / n);
  }
  return best;
}

const rows: string[] = [];
for (const executor of ['jit', 'graphql-js'] as const) {
  const server = createGraphQLServer({
    logger: createLogger('silent'),
    limits: { limitsFor: () => ({ ...DEFAULT_LIMITS, pointsPerMinute: 0 }), locationCount: 10 },
    maxTokens: 2000,
    executor,
    cacheControl: false,
  });
  await server.start();
  const compiled = compileQuery(createSchema(), parse(AVAILABILITY.body), AVAILABILITY.name);
  if (!isCompiledQuery(compiled)) throw new Error('the availability operation does not compile');
  for (const skus of [1, 50, 500]) {
    const variables = { skus: Array.from({ length: skus }, (_, i) => `S${i}`), channel: 'web' };
    const body = { query: AVAILABILITY.body, operationName: AVAILABILITY.name, variables };
    const n = skus === 500 ? 100 : skus === 50 ? 1000 : 5000;
    const apollo = await perRequest(async () => {
      const r = await server.executeHTTPGraphQLRequest({ httpGraphQLRequest: { method: 'POST', headers: new HeaderMap([['content-type', 'application/json']]), search: '', body }, context: async () => context() });
      if (r.body.kind !== 'complete' || r.status !== undefined && r.status !== 200) throw new Error('unexpected response');
    }, n);
    const row = [`| ${executor} | ${skus} | ${apollo.toFixed(0)}`];
    if (executor === 'jit') {
      const direct = await perRequest(async () => JSON.stringify(await compiled.query(undefined, context(), variables)), n);
      const hand = await perRequest(async () => handWritten(variables.skus.map(availability)), n);
      row.push(`${direct.toFixed(0)}`, `${hand.toFixed(0)}`);
    } else {
      row.push('-', '-');
    }
    rows.push(`${row.join(' | ')} |`);
    process.stderr.write(`${rows.at(-1)}\n`);
  }
  await server.stop();
}

const section = [
  `## In-process overhead (bench/overhead.ts), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  '',
  '- command: `npx tsx bench/overhead.ts`',
  `- machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}; no I/O: the availability operation over a stub domain (9 locations per SKU); µs per request, best of 3 rounds`,
  '- `apollo`: the shipped GraphQL server, request to response string (our plugins, limits, the executor named); `jit direct`: the same compiled operation and `JSON.stringify`, no Apollo (the best a bypass could do); `hand-written`: the floor\'s mapping and `JSON.stringify`',
  '',
  '| executor | SKUs | apollo µs | jit direct µs | hand-written µs |',
  '|---|---:|---:|---:|---:|',
  ...rows,
  '',
].join('\n');
process.stdout.write(`${section}\n`);
if (!process.argv.includes('--no-record')) appendFileSync(join(import.meta.dirname, 'RESULTS.md'), `${section}\n`);
