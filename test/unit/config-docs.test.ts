/**
 * The configuration reference cannot drift from the code: docs/configuration.md's key table is
 * what the schema generates today, and its annotated example is a config the schema accepts
 * (a renamed or removed key in the example fails here as it would at start-up).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { withReference } from '../../src/config/reference.js';

const DOC = join(import.meta.dirname, '..', '..', 'docs', 'configuration.md');
const text = readFileSync(DOC, 'utf8');

describe('docs/configuration.md', () => {
  it('has the key table the schema generates (npm run docs:config rewrites it)', () => {
    expect(text).toBe(withReference(text));
  });

  it('has an annotated example the schema accepts, every section of it', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    expect(example).toBeDefined();
    const env = {
      WMS_DATABASE_URL: 'mysql://root@127.0.0.1:3306/wms',
      ERP_DATABASE_URL: 'mysql://root@127.0.0.1:3306/erp',
      SHOP_DATABASE_URL: 'mysql://root@127.0.0.1:3306/shop',
    };
    const config = parseConfig(example as string, join(import.meta.dirname, 'inventory-graph.yaml'), env);
    expect(Object.keys(config.sources).sort()).toEqual(['erp', 'shop', 'tpl', 'wms']);
    for (const section of ['server', 'store', 'sources', 'locations', 'precedence', 'auth', 'limits', 'routing', 'anomalies', 'events', 'defaults']) {
      expect(example, section).toMatch(new RegExp(`^${section}:`, 'm'));
    }
  });
});
