/**
 * Trusted documents: the operations this gateway publishes, one per file in documents/ (the
 * explorer's examples, src/server/examples.ts, and the benchmark's scenarios,
 * bench/lib/scenarios.ts), as a persisted query manifest in Apollo's format, which Apollo
 * Client, Apollo Router and GraphOS tooling read:
 *
 *   { "format": "apollo-persisted-query-manifest", "version": 1,
 *     "operations": [{ "id": "<sha256 hex of body>", "name": "Availability", "type": "query", "body": "..." }] }
 *
 * `inventory-graph documents` prints it; `inventory-graph documents --check` validates every
 * document against the schema. A client calls one by id, as an Apollo persisted query
 * (`extensions.persistedQuery.sha256Hash`, no `query`): Apollo finds the body in its
 * persisted-query cache, where the server pins every id at start (`TrustedDocumentCache`), and
 * the fast path (src/server/fast-path.ts) answers it without Apollo's request machinery.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, validate, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { PersistedQueryOptions } from '@apollo/server';

export const DOCUMENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'documents');

export const MANIFEST_FORMAT = 'apollo-persisted-query-manifest';

export interface ManifestOperation {
  /** The sha256 of `body`, in hex: what a client sends as `extensions.persistedQuery.sha256Hash`. */
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

export interface PersistedQueryManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  operations: ManifestOperation[];
}

/** Documents that cannot be published, every problem listed. */
export class DocumentError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export const documentId = (body: string) => createHash('sha256').update(body, 'utf8').digest('hex');

/**
 * The manifest of the documents in `dir`: each `*.graphql` file (in name order) holds one named
 * operation (and the fragments it uses); its body is the file's text without surrounding
 * whitespace. Throws a DocumentError, naming each file, when a file does not parse, holds no
 * named operation or several, or two files use the same operation name.
 */
export function manifestFrom(dir = DOCUMENTS_DIR): PersistedQueryManifest {
  const problems: string[] = [];
  const operations: ManifestOperation[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort();
  for (const file of files) {
    const body = readFileSync(join(dir, file), 'utf8').trim();
    let document: DocumentNode;
    try {
      document = parse(body);
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
      continue;
    }
    const ops = operationsOf(document);
    const op = ops[0];
    if (ops.length !== 1 || op === undefined || op.name === undefined) {
      problems.push(`${file}: must hold exactly one named operation, holds ${ops.length === 1 ? 'an anonymous one' : ops.length}`);
      continue;
    }
    const name = op.name.value;
    const taken = operations.find((o) => o.name === name);
    if (taken !== undefined) problems.push(`${file}: operation ${name} is already published by another file`);
    else operations.push({ id: documentId(body), name, type: op.operation, body });
  }
  if (problems.length > 0) throw new DocumentError(problems);
  if (operations.length === 0) throw new DocumentError([`${dir}: no *.graphql documents`]);
  return { format: MANIFEST_FORMAT, version: 1, operations };
}

let published: PersistedQueryManifest | undefined;

/** The gateway's own manifest (documents/), read once per process. */
export function trustedDocuments(): PersistedQueryManifest {
  return (published ??= manifestFrom());
}

/** The published operation named `name`; throws when there is none (a stale reference is a bug). */
export function documentNamed(name: string, manifest = trustedDocuments()): ManifestOperation {
  const op = manifest.operations.find((o) => o.name === name);
  if (op === undefined) throw new Error(`No trusted document named ${name} (documents/*.graphql)`);
  return op;
}

/**
 * Every problem of a manifest (parsed JSON, from anywhere), each naming its operation: the
 * format, an id that is not the sha256 of its body, a body that does not parse or does not
 * validate against `schema`, a name or type that is not its operation's, a name used twice.
 */
export function checkManifest(manifest: unknown, schema: GraphQLSchema): string[] {
  if (manifest === null || typeof manifest !== 'object') return ['the manifest is not a JSON object'];
  const m = manifest as Partial<Record<keyof PersistedQueryManifest, unknown>>;
  const problems: string[] = [];
  if (m.format !== MANIFEST_FORMAT) problems.push(`format: must be "${MANIFEST_FORMAT}", got ${JSON.stringify(m.format)}`);
  if (m.version !== 1) problems.push(`version: must be 1, got ${JSON.stringify(m.version)}`);
  if (!Array.isArray(m.operations)) return [...problems, 'operations: must be an array'];
  const names = new Set<string>();
  m.operations.forEach((o: Partial<Record<keyof ManifestOperation, unknown>> | null, i) => {
    const label = typeof o?.name === 'string' ? o.name : `operations[${i}]`;
    if (
      o === null ||
      typeof o !== 'object' ||
      typeof o.body !== 'string' ||
      typeof o.id !== 'string' ||
      typeof o.name !== 'string' ||
      typeof o.type !== 'string'
    ) {
      problems.push(`${label}: needs string id, name, type and body`);
      return;
    }
    if (names.has(o.name)) problems.push(`${label}: the name is used by another operation`);
    names.add(o.name);
    if (o.id !== documentId(o.body)) problems.push(`${label}: id ${o.id} is not the sha256 of its body (${documentId(o.body)})`);
    let document: DocumentNode;
    try {
      document = parse(o.body);
    } catch (e) {
      problems.push(`${label}: ${(e as Error).message}`);
      return;
    }
    const ops = operationsOf(document);
    if (ops.length !== 1) problems.push(`${label}: the body must hold exactly one operation, holds ${ops.length}`);
    else if (ops[0]?.name?.value !== o.name || ops[0]?.operation !== o.type) {
      problems.push(`${label}: the body's operation is ${ops[0]?.operation} ${ops[0]?.name?.value ?? '(anonymous)'}, the manifest says ${o.type} ${o.name}`);
    }
    for (const e of validate(schema, document)) problems.push(`${label}: ${e.message}`);
  });
  return problems;
}

function operationsOf(document: DocumentNode): OperationDefinitionNode[] {
  return document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
}

type PersistedQueryCache = NonNullable<PersistedQueryOptions['cache']>;

/**
 * Apollo's persisted-query cache with the trusted documents pinned: Apollo finds every published
 * id there, however many documents clients register by automatic persisted queries (those go to
 * `registrations`, Apollo's own cache, and may be evicted; a pinned one never is).
 */
export class TrustedDocumentCache implements PersistedQueryCache {
  private readonly pinned: ReadonlyMap<string, string>;
  /** Where registrations go: set to Apollo's own cache (`server.cache`) once the server is built. */
  registrations: PersistedQueryCache | undefined;

  constructor(manifest: PersistedQueryManifest) {
    this.pinned = new Map(manifest.operations.map((o) => [o.id, o.body]));
  }

  /** Apollo asks with its own prefix (`apq:`): the hash is the key's last part. */
  private static hashOf(key: string): string {
    return key.slice(key.lastIndexOf(':') + 1);
  }

  async get(key: string): Promise<string | undefined> {
    return this.pinned.get(TrustedDocumentCache.hashOf(key)) ?? this.registrations?.get(key);
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    if (!this.pinned.has(TrustedDocumentCache.hashOf(key))) await this.registrations?.set(key, value, options);
  }

  async delete(key: string): Promise<boolean | void> {
    return this.registrations?.delete(key);
  }
}
