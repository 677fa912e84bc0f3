/**
 * The compiled executor's bookkeeping and settings (counts only; its speed is measured by
 * `npm run bench`, never asserted): the LRU stays bounded, a repeated operation is compiled
 * once, and the execution settings come from options, then the environment.
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { Lru } from '../../src/lru.js';
import { compiledExecutorGateway } from '../../src/server/executor.js';
import { executionSettings } from '../../src/server/graphql.js';

describe('Lru', () => {
  it('keeps at most max entries and drops the least recently used', () => {
    const l = new Lru<string, number>(2);
    l.set('a', 1);
    l.set('b', 2);
    expect(l.get('a')).toBe(1); // a is now the most recent
    l.set('c', 3);
    expect(l.size).toBe(2);
    expect(l.get('b')).toBeUndefined();
    expect([l.get('a'), l.get('c')]).toEqual([1, 3]);
    expect(() => new Lru(0)).toThrow(RangeError);
  });
});

describe('compiledExecutorGateway', () => {
  // built by graphql-tools, as the server's schema is: the one graphql instance graphql-jit also
  // loads (under vitest, a `graphql` import from a test file may resolve to a second copy)
  const schema = makeExecutableSchema({
    typeDefs: 'type Query { hello(name: String!): String! }',
    resolvers: { Query: { hello: (_: unknown, a: { name: string }) => `hello ${a.name}` } },
  });

  async function executor(max: number) {
    const gw = compiledExecutorGateway(schema, { maxOperations: max });
    let loaded: unknown;
    gw.onSchemaLoadOrUpdate((s) => (loaded = s.apiSchema));
    expect(loaded).toBe(schema);
    const { executor } = await gw.load({ apollo: {} });
    const run = (query: string, variables: Record<string, unknown>) =>
      executor!({ source: query, operationName: null, document: parse(query), request: { query, variables }, context: {} } as never);
    return { gw, run };
  }

  it('compiles an operation once and answers from the compiled function', async () => {
    const { gw, run } = await executor(10);
    const q = 'query Q($n: String!) { hello(name: $n) }';
    expect(await run(q, { n: 'a' })).toEqual({ data: { hello: 'hello a' } });
    expect(await run(q, { n: 'b' })).toEqual({ data: { hello: 'hello b' } });
    expect(gw.operations.size).toBe(1);
  });

  it('keeps no more compiled operations than its bound', async () => {
    const { gw, run } = await executor(3);
    for (let i = 0; i < 10; i++) await run(`query Q${i}($n: String!) { hello(name: $n) }`, { n: 'x' });
    expect(gw.operations.size).toBe(3);
  });

  it('answers refused variables as BAD_USER_INPUT with HTTP 400, running nothing', async () => {
    const { run } = await executor(3);
    const r = await run('query Q($n: String!) { hello(name: $n) }', { n: 42 });
    expect(r.data).toBeUndefined();
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', http: { status: 400 } });
  });
});

describe('executionSettings', () => {
  it('defaults to graphql-jit with the cache-control plugin off and the fast path on', () => {
    expect(executionSettings({})).toEqual({ executor: 'jit', cacheControl: false, fastPath: true });
  });
  it('takes the options (server.executor, server.cacheControl, server.fastPath)', () => {
    expect(executionSettings({ executor: 'graphql-js', cacheControl: true })).toEqual({ executor: 'graphql-js', cacheControl: true, fastPath: false });
    // the fast path answers as the jit executor does, with no Cache-Control: only with both
    expect(executionSettings({ fastPath: false })).toEqual({ executor: 'jit', cacheControl: false, fastPath: false });
    expect(executionSettings({ fastPath: true, cacheControl: true }).fastPath).toBe(false);
    expect(executionSettings({ fastPath: true, executor: 'graphql-js' }).fastPath).toBe(false);
  });
});
