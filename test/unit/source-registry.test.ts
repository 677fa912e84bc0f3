import { describe, expect, it } from 'vitest';
import { sourceSchema } from '../../src/config/schema.js';
import { connectorFactories, createConnector } from '../../src/sources/registry.js';

/** Every `kind` the config's discriminated union accepts, read from its options' literals. */
function schemaKinds(): string[] {
  return sourceSchema.options.flatMap((o) => [...o.shape.kind.values].map(String));
}

describe('connector registry', () => {
  it('has a factory for every kind the config schema accepts, and none besides', () => {
    const kinds = schemaKinds();
    expect(kinds.length).toBeGreaterThan(0);
    for (const kind of kinds) expect(connectorFactories, `no factory for kind "${kind}"`).toHaveProperty(kind);
    expect(Object.keys(connectorFactories).sort()).toEqual([...kinds].sort());
  });

  it('refuses a kind it does not know, naming the source', () => {
    expect(() => createConnector('x', { kind: 'ftp' } as never)).toThrow(/source "x": no connector for kind "ftp"/);
  });
});
