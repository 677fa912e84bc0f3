/**
 * The trusted documents (src/server/documents.ts): the published ones are valid against the
 * schema and cover the explorer's examples and the benchmark's scenarios; a directory that
 * cannot be published is refused naming each file; a manifest's problems name each operation;
 * Apollo's persisted-query cache keeps every published id whatever clients register.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkManifest, documentId, manifestFrom, TrustedDocumentCache, trustedDocuments, type DocumentError } from '../../src/server/documents.js';
import { exampleOperations } from '../../src/server/examples.js';
import { createSchema } from '../../src/server/graphql.js';
import { AVAILABILITY, ITEM, ROUTE } from '../../bench/lib/scenarios.js';

const schema = createSchema();

describe('the published documents', () => {
  it('are valid, one per name, and hold every explorer example and bench scenario', () => {
    const manifest = trustedDocuments();
    expect(checkManifest(manifest, schema)).toEqual([]);
    const bodies = new Set(manifest.operations.map((o) => o.body));
    for (const e of exampleOperations(['SKU-000001'], { sources: { wms: {} }, locations: [], precedence: { quantity: ['wms'] } } as never))
      expect(bodies.has(e.query), e.name).toBe(true);
    for (const d of [AVAILABILITY, ITEM, ROUTE]) expect(manifest.operations).toContainEqual(d);
  });
});

describe('manifestFrom', () => {
  it('refuses a directory naming each file that does not parse, has no single named operation, or takes a name already used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-docs-'));
    writeFileSync(join(dir, 'a.graphql'), 'query A { viewer { name } }\n');
    writeFileSync(join(dir, 'b.graphql'), 'query B { viewer { name }\n');
    writeFileSync(join(dir, 'c.graphql'), '{ viewer { name } }');
    writeFileSync(join(dir, 'd.graphql'), 'query A { viewer { role } }');
    writeFileSync(join(dir, 'notes.txt'), 'not a document');
    let problems: string[] = [];
    try {
      manifestFrom(dir);
    } catch (e) {
      problems = (e as DocumentError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^b\.graphql: Syntax Error/),
      'c.graphql: must hold exactly one named operation, holds an anonymous one',
      'd.graphql: operation A is already published by another file',
    ]);
  });

  it('publishes each body trimmed, with its sha256 as id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-docs-'));
    writeFileSync(join(dir, 'a.graphql'), '# who am I\nquery Me { viewer { name } }\n\n');
    expect(manifestFrom(dir)).toEqual({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: documentId('# who am I\nquery Me { viewer { name } }'), name: 'Me', type: 'query', body: '# who am I\nquery Me { viewer { name } }' }],
    });
  });
});

describe('checkManifest', () => {
  const op = (body: string, extra: Record<string, unknown> = {}) => ({ id: documentId(body), name: 'Q', type: 'query', body, ...extra });
  const manifest = (...operations: unknown[]) => ({ format: 'apollo-persisted-query-manifest', version: 1, operations });

  it('names the operation of each problem', () => {
    expect(checkManifest(manifest(op('query Q { viewer { name } }')), schema)).toEqual([]);
    expect(checkManifest(manifest(op('query Q { viewer { nope } }')), schema)).toEqual([
      expect.stringMatching(/^Q: Cannot query field "nope" on type "Viewer"/),
    ]);
    expect(checkManifest(manifest(op('query Q { viewer { name } }', { id: 'abc' })), schema)).toEqual([
      expect.stringMatching(/^Q: id abc is not the sha256 of its body/),
    ]);
    expect(checkManifest(manifest(op('query R { viewer { name } }')), schema)).toEqual(["Q: the body's operation is query R, the manifest says query Q"]);
    expect(checkManifest(manifest(op('query Q { viewer { name }')), schema)).toEqual([expect.stringMatching(/^Q: Syntax Error/)]);
    expect(checkManifest(manifest(op('query Q { viewer { name } }'), op('query Q { viewer { role } }')), schema)).toEqual([
      'Q: the name is used by another operation',
    ]);
    expect(checkManifest({ format: 'x', version: 2, operations: [] }, schema)).toEqual([
      'format: must be "apollo-persisted-query-manifest", got "x"',
      'version: must be 1, got 2',
    ]);
  });
});

describe('TrustedDocumentCache', () => {
  it('answers every published id, and passes registrations to the cache behind it', async () => {
    const manifest = trustedDocuments();
    const cache = new TrustedDocumentCache(manifest);
    const behind = new Map<string, string>();
    cache.registrations = { get: async (k) => behind.get(k), set: async (k, v) => void behind.set(k, v), delete: async (k) => behind.delete(k) };
    const first = manifest.operations[0]!;
    expect(await cache.get(`apq:${first.id}`)).toBe(first.body);
    await cache.set(`apq:${first.id}`, first.body);
    await cache.set('apq:other', '{ viewer { name } }');
    expect([...behind.keys()]).toEqual(['apq:other']);
    expect(await cache.get('apq:other')).toBe('{ viewer { name } }');
    behind.clear();
    expect(await cache.get(`apq:${first.id}`)).toBe(first.body);
  });
});
