/**
 * Where the gateway's CPU goes beyond the floor's, without I/O: the bench's availability
 * operation (a trusted document) answered in-process from a stub domain (fixed figures, 9
 * locations per SKU), these ways:
 *
 * - `apollo text` / `apollo id`: the shipped Apollo server (`createGraphQL`: Apollo's pipeline
 *   and our plugins, graphql-jit executor, or graphql-js), the query sent as text or by its
 *   trusted-document id, request to response string;
 * - `fast path id`: the shipped fast path (src/server/fast-path.ts), the same request by id;
 * - `jit direct`: the same compiled operation called directly, then `JSON.stringify`: what a
 *   bypass of Apollo could reach at best;
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
import { createGraphQL, createSchema } from '../src/server/graphql.js';
import { DEFAULT_LIMITS } from '../src/server/limits.js';
import { AVAILABILITY } from './lib/scenarios.js';

const location = (i: number): Location => ({
  id: `L${i}`,
  name: `L${i}`,
  codes: {},
  latitude: null,
  longitude: null,
  priority: 1,
  channels: null,
  sellable: true,
  safetyStock: 0,
});
const availability = (sku: string): Availability => ({
  sku,
  known: true,
  available: 10,
  onHand: 12,
  committed: 2,
  reserved: 0,
  safetyStock: 0,
  flags: ['STALE'],
  byLocation: Array.from({ length: 9 }, (_, i) => ({
    location: location(i),
    onHand: 5,
    committed: 1,
    reserved: 0,
    safetyStock: 0,
    available: 4,
    availableBeforeHolds: 4,
    counted: true,
    onHandOnly: false,
    flags: [],
    provenance: { source: 'wms', asOf: new Date(), heardAt: null, stale: false, fallback: false, rule: 'quantity: wms > tpl > erp' },
  })),
});
const context = () =>
  ({
    requestId: 'bench',
    principal: { name: 'bench', role: 'admin' },
    sources: [],
    reconciliation: {},
    anomalyWorkflow: {},
    diagnostics: { ...createDiagnostics(), statements: new Map([['wms/stock', 1]]) },
    inventory: { availability: async (skus: string[]) => skus.map(availability) },
  }) as never;
const handWritten = (a: Availability[]) =>
  JSON.stringify({
    data: {
      availability: a.map((x) => ({
        sku: x.sku,
        available: x.available,
        onHand: x.onHand,
        committed: x.committed,
        safetyStock: x.safetyStock,
        flags: x.flags,
        byLocation: x.byLocation.map((l) => ({
          location: { id: l.location.id },
          onHand: l.onHand,
          committed: l.committed,
          safetyStock: l.safetyStock,
          available: l.available,
          counted: l.counted,
          flags: l.flags,
          provenance: {
            source: l.provenance.source,
            asOf: l.provenance.asOf?.toISOString() ?? null,
            stale: l.provenance.stale,
            fallback: l.provenance.fallback,
            rule: l.provenance.rule,
          },
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
  const { server, fastPath } = createGraphQL({
    logger: createLogger('silent'),
    limits: { limitsFor: () => ({ ...DEFAULT_LIMITS, pointsPerMinute: 0 }), locationCount: 10 },
    maxTokens: 2000,
    executor,
    cacheControl: false,
    fastPath: true,
  });
  await server.start();
  const compiled = compileQuery(createSchema(), parse(AVAILABILITY.body), AVAILABILITY.name);
  if (!isCompiledQuery(compiled)) throw new Error('the availability operation does not compile');
  for (const skus of [1, 50, 500]) {
    const variables = { skus: Array.from({ length: skus }, (_, i) => `S${i}`), channel: 'web' };
    const byText = { query: AVAILABILITY.body, operationName: AVAILABILITY.name, variables };
    const byId = { operationName: AVAILABILITY.name, variables, extensions: { persistedQuery: { version: 1, sha256Hash: AVAILABILITY.id } } };
    const n = skus === 500 ? 100 : skus === 50 ? 1000 : 5000;
    const viaApollo = (body: unknown) => async () => {
      const r = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers: new HeaderMap([['content-type', 'application/json']]), search: '', body },
        context: async () => context(),
      });
      if (r.body.kind !== 'complete' || (r.status !== undefined && r.status !== 200)) throw new Error('unexpected response');
    };
    const text = await perRequest(viaApollo(byText), n);
    const id = await perRequest(viaApollo(byId), n);
    const row = [`| ${executor} | ${skus} | ${text.toFixed(0)} | ${id.toFixed(0)}`];
    if (executor === 'jit' && fastPath !== undefined) {
      const fast = await perRequest(async () => {
        const r = await fastPath(byId, { 'content-type': 'application/json' }, context);
        if (r?.status !== 200) throw new Error('the fast path did not answer');
      }, n);
      const direct = await perRequest(async () => JSON.stringify(await compiled.query(undefined, context(), variables)), n);
      const hand = await perRequest(async () => handWritten(variables.skus.map(availability)), n);
      row.push(`${fast.toFixed(0)}`, `${direct.toFixed(0)}`, `${hand.toFixed(0)}`);
    } else {
      row.push('-', '-', '-');
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
  "- `apollo text` / `apollo id`: the shipped Apollo server, request to response string (our plugins, limits, the executor named), the operation as text or by its trusted-document id; `fast path id`: the shipped fast path, by id; `jit direct`: the same compiled operation and `JSON.stringify`, no Apollo (the best a bypass could do); `hand-written`: the floor's mapping and `JSON.stringify`",
  '',
  '| executor | SKUs | apollo text µs | apollo id µs | fast path id µs | jit direct µs | hand-written µs |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows,
  '',
].join('\n');
process.stdout.write(`${section}\n`);
if (!process.argv.includes('--no-record')) appendFileSync(join(import.meta.dirname, 'RESULTS.md'), `${section}\n`);
