/**
 * Local stand-ins for the APIs `kind: http` sources read, answering in their real shapes over
 * real HTTP on 127.0.0.1 (port 0):
 *
 * - `startShipBobStub`: ShipBob's `GET /2.0/inventory-level/locations` (items with per-location
 *   quantities, `next` links or a `Link` header, `PageSize`, `SearchBy`), bearer token checked;
 *   faults on demand: 429 with Retry-After, 500, slow answers, padding past a size, a next link to
 *   another origin.
 * - `startShopifyStub`: Shopify's Admin GraphQL `inventoryItems` (the query's `first`/`after`/`query`
 *   variables, `sku:"A" OR sku:B` search strings, the `quantities(names: [...])` asked for),
 *   `X-Shopify-Access-Token` checked.
 * - `startRowsStub`: a plain REST listing of flat rows filtered by a `sku` parameter (the
 *   connector contract suite's fixture).
 *
 * Each counts its requests and keeps their URLs; `close` ends every connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubServer {
  url: string;
  /** Requests answered so far (every one, faults included). */
  requests: number;
  /** Each request's path and query string. */
  log: string[];
  /** Connections open right now, as the server sees them. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, body: string, res: ServerResponse, stub: StubServer) => void | Promise<void>): Promise<StubServer> {
  const holder: { server?: Server } = {};
  const stub: StubServer = {
    url: '',
    requests: 0,
    log: [],
    connections: () => new Promise((resolve, reject) => holder.server!.getConnections((e, n) => (e ? reject(e) : resolve(n)))),
    close: () =>
      new Promise<void>((resolve) => {
        holder.server!.closeAllConnections();
        holder.server!.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      stub.requests++;
      stub.log.push(req.url ?? '');
      void Promise.resolve(handler(req, Buffer.concat(chunks).toString('utf8'), res, stub)).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(e));
      });
    });
  });
  holder.server = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers }).end(text);
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One ShipBob fulfillment center's quantities for an item. */
export interface ShipBobLocation {
  location_id: number;
  name: string;
  on_hand_quantity: unknown;
  committed_quantity: unknown;
  fulfillable_quantity?: unknown;
}

export interface ShipBobItem {
  inventory_id: number;
  sku: string;
  name: string;
  locations: ShipBobLocation[];
}

/** A ShipBob item; quantities per location id: [onHand, committed]. */
export function shipBobItem(id: number, sku: string, levels: Record<number, [unknown, unknown]>): ShipBobItem {
  return {
    inventory_id: id,
    sku,
    name: `Item ${sku}`,
    locations: Object.entries(levels).map(([loc, [onHand, committed]]) => ({
      location_id: Number(loc),
      name: `FC ${loc}`,
      on_hand_quantity: onHand,
      committed_quantity: committed,
      fulfillable_quantity: typeof onHand === 'number' && typeof committed === 'number' ? onHand - committed : 0,
      awaiting_quantity: 0,
      internal_transfer_quantity: 0,
    })),
  };
}

export interface ShipBobStubOptions {
  token: string;
  items: ShipBobItem[];
  /** Items per page when the request gives no PageSize. Default 250 (ShipBob's maximum). */
  pageSize?: number;
  /** Where the next page is told: the answer's `next` (ShipBob) or a `Link` header. */
  paging?: 'next' | 'link';
}

/** ShipBob's faults, set by a test while the stub runs. */
export interface ShipBobFaults {
  /** The next N requests answer 429 with this Retry-After (seconds, or an HTTP date). */
  rateLimit?: { times: number; retryAfter: string };
  /** Every request answers this status. */
  status?: number;
  /** Every answer waits this long first. */
  slowMs?: number;
  /** Extra bytes in every answer (a `padding` member). */
  padBytes?: number;
  /** `next` links point to this origin instead of the stub's. */
  nextOrigin?: string;
}

export async function startShipBobStub(o: ShipBobStubOptions): Promise<StubServer & { faults: ShipBobFaults }> {
  const faults: ShipBobFaults = {};
  const stub = await listen(async (req, _body, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (faults.slowMs !== undefined) await sleep(faults.slowMs);
    if (res.destroyed) return;
    if (req.headers.authorization !== `Bearer ${o.token}`) return json(res, 401, { message: 'Authorization has been denied for this request.' });
    if (faults.rateLimit !== undefined && faults.rateLimit.times > 0) {
      faults.rateLimit.times--;
      return json(res, 429, { message: 'Too Many Requests' }, { 'retry-after': faults.rateLimit.retryAfter });
    }
    if (faults.status !== undefined) return json(res, faults.status, { message: 'An error has occurred.' });
    if (req.method !== 'GET' || url.pathname !== '/2.0/inventory-level/locations') return json(res, 404, { message: 'Not found' });
    const size = Number(url.searchParams.get('PageSize') ?? o.pageSize ?? 250);
    const search = url.searchParams.get('SearchBy')?.toLowerCase();
    const items = search === undefined ? o.items : o.items.filter((i) => i.sku.toLowerCase().includes(search) || i.name.toLowerCase().includes(search));
    const at = Number(url.searchParams.get('Cursor') ?? 0);
    const page = items.slice(at, at + size);
    const link = (from: number) => {
      const u = new URL(url.pathname, faults.nextOrigin ?? 'http://stub');
      u.searchParams.set('Cursor', String(from));
      u.searchParams.set('PageSize', String(size));
      if (search !== undefined) u.searchParams.set('SearchBy', search);
      return faults.nextOrigin === undefined ? `${u.pathname}${u.search}` : u.toString();
    };
    const next = at + size < items.length ? link(at + size) : null;
    const body: Record<string, unknown> = {
      first: link(0),
      prev: at > 0 ? link(Math.max(0, at - size)) : null,
      next: o.paging === 'link' ? null : next,
      last: link(Math.max(0, Math.floor((items.length - 1) / size) * size)),
      items: page,
    };
    if (faults.padBytes !== undefined) body.padding = 'x'.repeat(faults.padBytes);
    const headers: Record<string, string> = {};
    if (o.paging === 'link' && next !== null) headers.link = `<${link(0)}>; rel="first", <${next}>; rel="next"`;
    return json(res, 200, body, headers);
  });
  return Object.assign(stub, { faults });
}

/** One Shopify inventory level: a location and its named quantities. */
export interface ShopifyLevel {
  location: { id: string; name: string };
  quantities: Record<string, number>;
  updatedAt: string;
}

export interface ShopifyItem {
  id: string;
  sku: string;
  unitCost?: { amount: string; currencyCode: string };
  displayName?: string;
  levels: ShopifyLevel[];
}

export interface ShopifyStubOptions {
  token: string;
  items: ShopifyItem[];
}

/** The SKUs of a Shopify search string `sku:"A" OR sku:B`; null: no SKU filter. */
function skusOfSearch(q: unknown): Set<string> | null {
  if (typeof q !== 'string' || q.trim() === '') return null;
  const out = new Set<string>();
  for (const m of q.matchAll(/sku:(?:"((?:[^"\\]|\\.)*)"|([^\s)]+))/g)) out.add(m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : (m[2] as string));
  return out;
}

/** Shopify's faults, set by a test while the stub runs. */
export interface ShopifyFaults {
  /** The next N queries answer THROTTLED, `available` points left of the bucket, restoring `restoreRate` a second (default 100). */
  throttle?: { times: number; available: number; restoreRate?: number };
}

export async function startShopifyStub(
  o: ShopifyStubOptions,
): Promise<StubServer & { queries: { query: string; variables: Record<string, unknown> }[]; faults: ShopifyFaults }> {
  const queries: { query: string; variables: Record<string, unknown> }[] = [];
  const faults: ShopifyFaults = {};
  const stub = await listen((req, body, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (!/^\/admin\/api\/[^/]+\/graphql\.json$/.test(url.pathname) || req.method !== 'POST') return json(res, 404, { errors: 'Not Found' });
    if (req.headers['x-shopify-access-token'] !== o.token)
      return json(res, 401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    let parsed: { query?: unknown; variables?: Record<string, unknown> };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return json(res, 400, { errors: 'Bad Request' });
    }
    const query = String(parsed.query ?? '');
    const variables = parsed.variables ?? {};
    queries.push({ query, variables });
    if (!/inventoryItems\s*\(/.test(query))
      return json(res, 200, { errors: [{ message: 'Field must be inventoryItems', extensions: { code: 'undefinedField' } }] });
    if (faults.throttle !== undefined && faults.throttle.times > 0) {
      faults.throttle.times--;
      return json(res, 200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: {
          cost: {
            requestedQueryCost: 102,
            actualQueryCost: null,
            throttleStatus: { maximumAvailable: 2000, currentlyAvailable: faults.throttle.available, restoreRate: faults.throttle.restoreRate ?? 100 },
          },
        },
      });
    }
    const first = Number(variables.first ?? 50);
    if (!Number.isInteger(first) || first < 1 || first > 250) return json(res, 200, { errors: [{ message: 'first must be between 1 and 250' }] });
    const names =
      /quantities\s*\(\s*names:\s*\[([^\]]*)\]/
        .exec(query)?.[1]
        ?.match(/"([^"]+)"/g)
        ?.map((n) => n.slice(1, -1)) ?? [];
    const skus = skusOfSearch(variables.query);
    const all = o.items.filter((i) => skus === null || skus.has(i.sku));
    const after = typeof variables.cursor === 'string' ? Number(Buffer.from(variables.cursor, 'base64').toString()) : 0;
    const page = all.slice(after, after + first);
    const cursorOf = (n: number) => Buffer.from(String(n)).toString('base64');
    const wants = (f: string) => new RegExp(`\\b${f}\\b`).test(query);
    return json(res, 200, {
      data: {
        inventoryItems: {
          edges: page.map((i, k) => ({
            cursor: cursorOf(after + k + 1),
            node: {
              id: i.id,
              sku: i.sku,
              ...(wants('unitCost') ? { unitCost: i.unitCost ?? null } : {}),
              ...(wants('variant') ? { variant: { displayName: i.displayName ?? i.sku } } : {}),
              ...(wants('inventoryLevels')
                ? {
                    inventoryLevels: {
                      edges: i.levels.map((l) => ({
                        node: {
                          location: l.location,
                          updatedAt: l.updatedAt,
                          quantities: names.map((n) => ({ name: n, quantity: l.quantities[n] ?? 0 })),
                        },
                      })),
                    },
                  }
                : {}),
            },
          })),
          pageInfo: { hasNextPage: after + first < all.length, endCursor: page.length === 0 ? null : cursorOf(after + page.length) },
        },
      },
      extensions: { cost: { requestedQueryCost: 10, actualQueryCost: 10 } },
    });
  });
  return Object.assign(stub, { queries, faults });
}

/** A plain REST listing of flat rows: `GET /rows?sku=A,B` answers `{ data: [...] }` for those codes (all without `sku`). */
export async function startRowsStub(rows: readonly Record<string, unknown>[], key = 'item_code'): Promise<StubServer> {
  return listen((req, _body, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname !== '/rows') return json(res, 404, { message: 'not found' });
    const skus = url.searchParams.get('sku');
    const wanted = skus === null ? null : new Set(skus.split(','));
    return json(res, 200, { data: rows.filter((r) => wanted === null || wanted.has(String(r[key]))) });
  });
}
