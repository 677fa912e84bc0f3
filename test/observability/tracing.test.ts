/**
 * OpenTelemetry traces (telemetry.tracing, docs/observability.md), on the real gateway over real
 * HTTP with real SQLite sources (one of them an unreachable MariaDB address), spans caught by an
 * InMemorySpanExporter given to createApp, or sent over OTLP/HTTP to a node:http receiver:
 *
 * - one availability request: the SERVER span (the caller's traceparent its parent, same trace),
 *   the operation span under it (name, type, cost), one span per source read under that (source,
 *   entity, codes, outcome, breaker, statements adding up to `x-source-statements`), and the trace
 *   id on the request log line; the same through the fast path (a trusted document by id);
 * - a source that cannot be reached: its read spans have error status and the breaker state, and
 *   once the breaker opens the reads are `rejected`;
 * - a poll feed batch of a mirrored source: its span, with the codes applied and its statements;
 * - a webhook delivery: its span, whose `traceparent` the receiver got;
 * - OTLP: the spans arrive at POST /v1/traces with service.name;
 * - off (the default): no span, no export request, no trace id in the log.
 */
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import Database from 'better-sqlite3';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PollFeed } from '../../src/feeds/poll.js';
import { documentNamed } from '../../src/server/documents.js';
import { tracing } from '../../src/tracing.js';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';
import { reserveOne, startEventsDemo, stockedSkus, webhookSecret } from '../events/helpers.js';
import { startReceiver } from '../events/receiver.js';
import { eventually } from '../feeds/feed-helpers.js';

const AVAILABILITY = 'query TracedAvailability($skus: [ID!]!) { availability(skus: $skus) { sku available } }';
const SKUS = ['SKU-000001', 'SKU-000002', 'SKU-000003'];
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

type Line = Record<string, unknown> & { msg: string };

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const traceOf = (s: ReadableSpan) => s.spanContext().traceId;

/** The spans of one trace: its SERVER span, the operation span under it, the source read spans under that. */
function tree(spans: readonly ReadableSpan[], traceId: string) {
  const mine = spans.filter((s) => traceOf(s) === traceId);
  const server = mine.filter((s) => s.kind === SpanKind.SERVER);
  expect(server).toHaveLength(1);
  const http = server[0] as ReadableSpan;
  const ops = mine.filter((s) => parentOf(s) === idOf(http));
  expect(ops).toHaveLength(1);
  const op = ops[0] as ReadableSpan;
  const reads = mine.filter((s) => parentOf(s) === idOf(op));
  return { http, op, reads };
}

/** Statements per `source/entity` as the read spans count them. */
function statementsOf(reads: readonly ReadableSpan[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of reads) {
    const n = r.attributes['inventory.statements'] as number;
    if (n === 0) continue;
    const k = `${String(r.attributes['inventory.source'])}/${String(r.attributes['inventory.entity'])}`;
    m.set(k, (m.get(k) ?? 0) + n);
  }
  return m;
}

/** The demo's WMS mirrored by a poll feed the test drives (pollNow), every other source live. */
const mirroredWms = (yaml: string) => {
  const doc = parseDocument(yaml);
  for (const s of ['erp', 'shop', 'tpl']) doc.deleteIn(['sources', s, 'sync']);
  doc.setIn(
    ['sources', 'wms', 'sync'],
    doc.createNode({ mode: 'mirror', feeds: [{ kind: 'poll', changedSince: 'updated_at', intervalSeconds: 3600, overlapSeconds: 2, fullResyncSeconds: 0 }] }),
  );
  return doc.toString();
};

describe('tracing on: a request, its operation and its source reads', () => {
  const exporter = new InMemorySpanExporter();
  const lines: string[] = [];
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 60, mirrors: true, editConfig: mirroredWms, tracing: { exporter }, log: (l) => lines.push(l), logLevel: 'info' });
    await demo.app.mirrorsLoaded;
  });
  afterAll(() => demo?.close());
  afterEach(() => exporter.reset());

  const flush = () => demo.app.tracing?.flush();

  it('makes the caller’s trace the parent: HTTP span, operation span, one span per source read, statements as x-source-statements, trace id in the log line', async () => {
    const res = await fetch(demo.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': demo.keys.admin,
        'x-request-id': 'traced-1',
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
        tracestate: 'vendor=value',
      },
      body: JSON.stringify({ query: AVAILABILITY, variables: { skus: SKUS } }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await flush();
    const { http, op, reads } = tree(exporter.getFinishedSpans(), CALLER_TRACE);
    expect(parentOf(http)).toBe(CALLER_SPAN);
    expect(http.spanContext().traceState?.get('vendor')).toBe('value');
    expect(http.name).toBe('POST /graphql');
    expect(http.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.path': '/graphql',
      'http.response.status_code': 200,
      'inventory.request_id': 'traced-1',
    });
    expect(op.name).toBe('query TracedAvailability');
    expect(op.attributes).toMatchObject({ 'graphql.operation.name': 'TracedAvailability', 'graphql.operation.type': 'query' });
    expect(op.attributes['inventory.graphql.cost']).toBeGreaterThan(0);
    expect(op.attributes['inventory.graphql.document_id']).toBeUndefined();
    // stock from erp, wms (the mirror: no statement) and tpl
    expect(reads.map((r) => `${String(r.attributes['inventory.source'])}/${String(r.attributes['inventory.entity'])}`).sort()).toEqual([
      'erp/stock',
      'tpl/stock',
      'wms/stock',
    ]);
    for (const r of reads) {
      expect(r.attributes).toMatchObject({ 'inventory.outcome': 'ok', 'inventory.breaker': 'CLOSED' });
      // the source's own codes for the SKUs asked (the 3PL does not carry every SKU)
      expect(r.attributes['inventory.codes']).toBeGreaterThan(0);
      expect(r.attributes['inventory.codes']).toBeLessThanOrEqual(SKUS.length);
      expect(r.status.code).toBe(SpanStatusCode.UNSET);
    }
    expect(reads.find((r) => r.attributes['inventory.source'] === 'wms')?.attributes['inventory.statements']).toBe(0);
    expect(statementsOf(reads)).toEqual(statements(res.headers));
    expect(statements(res.headers).get('erp/stock')).toBe(1);
    await eventually(() => {
      const line = lines.map((l) => JSON.parse(l) as Line).find((l) => l.msg === 'request' && l.requestId === 'traced-1');
      expect(line?.traceId).toBe(CALLER_TRACE);
    });
  });

  it('a trusted document by id (the fast path) makes the same spans, with the document id', async () => {
    const id = documentNamed('Availability').id;
    const res = await fetch(demo.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': demo.keys.admin },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } }, variables: { skus: SKUS } }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await flush();
    const server = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    expect(server).toHaveLength(1);
    // no traceparent: a new trace
    expect(parentOf(server[0] as ReadableSpan)).toBeUndefined();
    const { op, reads } = tree(exporter.getFinishedSpans(), traceOf(server[0] as ReadableSpan));
    expect(op.name).toBe('query Availability');
    expect(op.attributes['inventory.graphql.document_id']).toBe(id);
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(statementsOf(reads)).toEqual(statements(res.headers));
  });

  it('a poll feed batch of the mirrored WMS is a span: source, feed, codes applied, statements', async () => {
    const wms = new Database(join(demo.dir, 'wms.sqlite'));
    const codes = (wms.prepare('select distinct item_code from bin_stock order by item_code limit 3').all() as { item_code: string }[]).map((r) => r.item_code);
    const later = wms.prepare('select max(updated_at) as m from bin_stock').get() as { m: unknown };
    // the demo's change column is ISO text (2026-12-01T19:37:11Z): a minute after the newest
    const stamp = `${new Date(Date.parse(String(later.m)) + 60_000).toISOString().slice(0, 19)}Z`;
    for (const c of codes) wms.prepare('update bin_stock set qty = qty + 1, updated_at = ? where item_code = ?').run(stamp, c);
    wms.close();
    const feed = demo.app.runtime.feeds.find((f) => f.name === 'wms/poll') as PollFeed;
    const before = feed.stats().applied;
    await feed.pollNow();
    // the changed codes, and any sharing the boundary timestamp of the last read (read again by design)
    const applied = feed.stats().applied - before;
    expect(applied).toBeGreaterThanOrEqual(codes.length);
    await flush();
    const batches = exporter.getFinishedSpans().filter((s) => s.name === 'feed batch wms/poll');
    expect(batches).toHaveLength(1);
    expect(batches[0]?.attributes).toMatchObject({
      'inventory.source': 'wms',
      'inventory.feed': 'wms/poll',
      'inventory.feed.kind': 'poll',
      'inventory.feed.applied': applied,
    });
    expect(batches[0]?.attributes['inventory.statements']).toBeGreaterThan(0);
  });
});

describe('tracing on: a source that cannot be reached (the graphql-js executor)', () => {
  const exporter = new InMemorySpanExporter();
  let demo: DemoApp;
  beforeAll(async () => {
    // erp behind a MariaDB address nothing listens on; its breaker opens after two failures, for good
    demo = await startDemoApp({
      skus: 30,
      tracing: { exporter },
      // graphql-js here (the first suite runs the jit executor and the fast path): the spans are the same
      override: { server: { executor: 'graphql-js' } },
      editConfig: (yaml) => {
        const doc = parseDocument(yaml);
        doc.setIn(['sources', 'erp', 'client'], 'mysql2');
        doc.setIn(['sources', 'erp', 'connection'], 'mysql://root@127.0.0.1:1/nothing');
        doc.setIn(['sources', 'erp', 'breaker'], doc.createNode({ failureThreshold: 2, resetAfterMs: 3_600_000 }));
        doc.setIn(['sources', 'erp', 'healthCheck'], doc.createNode({ intervalSeconds: 3600 }));
        return doc.toString();
      },
    });
  });
  afterAll(() => demo?.close());

  it('marks the failed reads with error status and the breaker state, and the refused ones rejected', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      exporter.reset();
      const r = await demo.gql(AVAILABILITY, { skus: SKUS });
      expect(r.body.errors?.some((e) => e.extensions?.code === 'SOURCE_UNAVAILABLE')).toBe(true);
      await demo.app.tracing?.flush();
      const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
      const { op, reads } = tree(exporter.getFinishedSpans(), traceOf(server));
      expect(op.attributes['inventory.graphql.error_codes']).toEqual(['SOURCE_UNAVAILABLE']);
      expect(op.status.code).toBe(SpanStatusCode.ERROR);
      const erp = reads.filter((s) => s.attributes['inventory.source'] === 'erp');
      expect(erp).toHaveLength(1);
      const span = erp[0] as ReadableSpan;
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['inventory.breaker']).toBe((demo.app.connectors.get('erp') as unknown as { breakerState(): string }).breakerState());
      // a failed read may have sent its statement before the connection failed: counted as the header counts it
      expect(span.attributes['inventory.statements']).toBe(statements(r.headers).get('erp/stock') ?? 0);
      outcomes.push(`${String(span.attributes['inventory.outcome'])}/${String(span.attributes['inventory.breaker'])}`);
    }
    // failures until the breaker opens, then refused at once
    expect(outcomes).toContain('rejected/OPEN');
    expect(outcomes.at(-1)).toBe('rejected/OPEN');
    expect(outcomes.filter((o) => o.startsWith('error/')).length + outcomes.filter((o) => o === 'rejected/OPEN').length).toBe(4);
  });
});

describe('tracing on: an event delivered to a webhook', () => {
  const exporter = new InMemorySpanExporter();
  it('sends the delivery span’s traceparent with the POST', async () => {
    const secret = webhookSecret();
    const receiver = await startReceiver({ secret });
    const demo = await startEventsDemo({
      skus: 40,
      tracing: { exporter },
      events: {
        pollIntervalMs: 50,
        sourceCheckSeconds: 3600,
        availability: { everyChange: true },
        sinks: { hook: { kind: 'webhook', url: receiver.url, secret } },
      },
    });
    try {
      const [sku] = await stockedSkus(demo, 1, 2);
      await reserveOne(demo.gql, `traced-${Date.now()}`, sku as string, 1, 'DC-EAST');
      await eventually(() => expect(receiver.received.length).toBeGreaterThan(0));
      const got = receiver.received[0];
      const traceparent = got?.headers.traceparent;
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      await eventually(async () => {
        await demo.app.tracing?.flush();
        const [, traceId, spanId] = String(traceparent).split('-');
        const span = exporter.getFinishedSpans().find((s) => idOf(s) === spanId);
        expect(span).toBeDefined();
        expect(traceOf(span as ReadableSpan)).toBe(traceId);
        expect(span?.kind).toBe(SpanKind.PRODUCER);
        expect(span?.attributes).toMatchObject({
          'inventory.sink': 'hook',
          'inventory.destination.kind': 'webhook',
          'inventory.event.id': got?.id,
          'inventory.event.type': (got?.json as { type: string }).type,
          'inventory.outcome': 'delivered',
        });
      });
    } finally {
      await demo.close();
      await receiver.close();
    }
  });
});

/** A node:http OTLP receiver: every POST body to /v1/traces, parsed. */
async function otlpReceiver(): Promise<{ url: string; posts: { path: string; body: unknown; headers: Record<string, unknown> }[]; close(): Promise<void> }> {
  const posts: { path: string; body: unknown; headers: Record<string, unknown> }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'), headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, posts, close: () => new Promise((r) => server.close(() => r())) };
}

const withTelemetry = (tracingKeys: Record<string, unknown>) => (yaml: string) => {
  const doc = parseDocument(yaml);
  doc.set('telemetry', doc.createNode({ tracing: tracingKeys }));
  return doc.toString();
};

describe('OTLP export', () => {
  it('sends the spans to the collector’s /v1/traces with service.name and the configured headers', async () => {
    const collector = await otlpReceiver();
    const demo = await startDemoApp({
      skus: 20,
      editConfig: withTelemetry({ enabled: true, endpoint: collector.url, serviceName: 'inventory-graph-test', headers: { 'x-collector-key': 'k1' } }),
    });
    try {
      expect((await demo.gql(AVAILABILITY, { skus: SKUS })).status).toBe(200);
    } finally {
      // the graceful stop flushes what is queued
      await demo.close();
      await collector.close();
    }
    expect(collector.posts.length).toBeGreaterThan(0);
    expect(collector.posts.every((p) => p.path === '/v1/traces' && p.headers['x-collector-key'] === 'k1')).toBe(true);
    const text = JSON.stringify(collector.posts.map((p) => p.body));
    expect(text).toContain('"key":"service.name","value":{"stringValue":"inventory-graph-test"}');
    expect(text).toContain('query TracedAvailability');
    expect(tracing.enabled).toBe(false);
  });
});

describe('tracing off (the default)', () => {
  it('records no span, sends nothing to the collector and logs no trace id', async () => {
    const collector = await otlpReceiver();
    const lines: string[] = [];
    // an endpoint set, but not enabled
    const off = await startDemoApp({ skus: 20, editConfig: withTelemetry({ endpoint: collector.url }), log: (l) => lines.push(l), logLevel: 'info' });
    try {
      expect(off.app.tracing).toBeUndefined();
      expect(tracing).toEqual({ enabled: false, tracer: undefined });
      const r = await off.gql(AVAILABILITY, { skus: SKUS }, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, 'x-request-id': 'untraced-1' });
      expect(r.status).toBe(200);
      await eventually(() => expect(lines.some((l) => l.includes('"untraced-1"'))).toBe(true));
    } finally {
      await off.close();
      await collector.close();
    }
    expect(collector.posts).toHaveLength(0);
    const line = lines.map((l) => JSON.parse(l) as Line).find((l) => l.msg === 'request' && l.requestId === 'untraced-1');
    expect(line).toBeDefined();
    expect(line?.traceId).toBeUndefined();
  });
});
