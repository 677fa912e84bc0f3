/**
 * The message path of a mirrored source, end to end in the real server over the real demo: the
 * 3PL's daily file as the base and picks applied on top of it since the file's asOf (file +
 * intraday), each message id applied once (also after a restart), out-of-order sets ignored,
 * unusable messages dead-lettered with their reason and re-driven after a config fix, unknown
 * codes kept and recorded as orphans, negatives opened at once. Deliveries go straight to the
 * source's sink (the transports have suites of their own in this folder); everything behind it
 * is real: the SQLite store, the mirror, the HTTP API.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { generateDemo } from '../../src/cli/demo-data.js';
import { main } from '../../src/cli/main.js';
import { prepareDemo } from '../../src/cli/start.js';
import { loadConfig } from '../../src/config/index.js';
import type { Delivery, Outcome } from '../../src/feeds/types.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import { DEMO_NOW, liveOnly, withoutEvents } from '../helpers/demo-app.js';

let dir: string;
let file: string;
let key: string;
let app: App;
let url: string;
/** The first row of the newest 3PL file: its code, facility, on-hand and asOf. */
let row: { code: string; location: string; onHand: number; asOf: string };

const Q = `query A($skus: [ID!]!) { availability(skus: $skus) { sku byLocation { location { id } onHand flags provenance { source asOf heardAt } } } }`;

async function start(): Promise<void> {
  app = await createApp(loadConfig(file), { logger: createLogger('silent') });
  url = await app.listen(0, '127.0.0.1');
  await app.mirrorsLoaded;
}

async function send(...changes: unknown[]): Promise<Outcome[]> {
  const deliveries: Delivery[] = changes.map((c) => ({ body: typeof c === 'string' ? c : JSON.stringify(c) }));
  return (app.runtime.sinks.get('tpl') as NonNullable<ReturnType<App['runtime']['sinks']['get']>>).receive('tpl/test', deliveries);
}

/** The 3PL-WEST level of SKU-000001 as the API answers it. */
async function westLevel(): Promise<{ onHand: number; flags: string[]; provenance: { source: string; asOf: string; heardAt: string | null } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query: Q, variables: { skus: ['SKU-000001'] } }),
  });
  const body = (await res.json()) as {
    data: { availability: { byLocation: { location: { id: string }; onHand: number; flags: string[]; provenance: never }[] }[] };
  };
  const l = body.data.availability[0]?.byLocation.find((b) => b.location.id === '3PL-WEST');
  if (l === undefined) throw new Error('no 3PL-WEST level');
  return l;
}

/** Polls `check` until it passes (background writes: the anomaly queue), for at most 10 s. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await check();
    } catch (e) {
      if (i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const minutesAfterFile = (m: number) => new Date(new Date(row.asOf).getTime() + m * 60_000).toISOString();
let seq = 0;
const id = () => `pick-${process.pid}-${++seq}`;

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main(argv);
    return { code, out: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-mirror-msg-'));
  await generateDemo({ dir, skus: 50, now: DEMO_NOW });
  ({
    keys: { admin: key },
  } = await prepareDemo(dir, { generate: false }));
  file = join(dir, 'inventory-graph.yaml');
  // every source live but the 3PL, mirrored with no transport (the test hands deliveries to its sink)
  const doc = parseDocument(withoutEvents(liveOnly(readFileSync(file, 'utf8'))));
  doc.setIn(['sources', 'tpl', 'sync'], { mode: 'mirror' });
  writeFileSync(file, doc.toString());
  const newest = readdirSync(join(dir, '3pl')).sort().at(-1) as string;
  const [header, first] = readFileSync(join(dir, '3pl', newest), 'utf8').split('\n') as [string, string];
  const cols = header.split(',');
  const v = first.split(',');
  const at = (c: string) => v[cols.indexOf(c)] as string;
  row = { code: at('client_sku'), location: at('facility'), onHand: Number(at('on_hand')), asOf: at('snapshot_at') };
  expect(row.code).toBe('ACM1');
  await start();
}, 60_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a 3PL mirrored from its daily file, with picks on top', () => {
  it('serves the file as before, with when the mirror last heard from the 3PL', async () => {
    const l = await westLevel();
    expect(l.onHand).toBe(row.onHand);
    expect(l.provenance.source).toBe('tpl');
    expect(l.provenance.heardAt).not.toBeNull();
  });

  it('applies a pick made after the file, once, however often it is delivered', async () => {
    const pick = { id: id(), op: 'delta', code: row.code, location: row.location, onHandDelta: -1, eventTime: minutesAfterFile(10) };
    expect(await send(pick, pick)).toEqual(['applied', 'duplicate']);
    expect(await send(pick)).toEqual(['duplicate']);
    expect((await westLevel()).onHand).toBe(row.onHand - 1);
  });

  it('ignores a pick the file already includes (made before its asOf)', async () => {
    const old = { id: id(), op: 'delta', code: row.code, location: row.location, onHandDelta: -5, eventTime: minutesAfterFile(-60) };
    expect(await send(old)).toEqual(['ignored']);
    expect((await westLevel()).onHand).toBe(row.onHand - 1);
  });

  it('ignores a set older than what it holds (out of order), takes a newer one', async () => {
    const newer = { id: id(), op: 'set', code: row.code, location: row.location, onHand: 40, eventTime: minutesAfterFile(30) };
    const older = { id: id(), op: 'set', code: row.code, location: row.location, onHand: 99, eventTime: minutesAfterFile(20) };
    expect(await send(newer, older)).toEqual(['applied', 'ignored']);
    const l = await westLevel();
    expect(l.onHand).toBe(40);
    expect(l.provenance.asOf).toBe(minutesAfterFile(30));
  });

  it('keeps everything applied across a restart, and still knows the ids', async () => {
    await app.close();
    await start();
    expect((await westLevel()).onHand).toBe(40);
    const again = { id: `pick-${process.pid}-1`, op: 'delta', code: row.code, location: row.location, onHandDelta: -1, eventTime: minutesAfterFile(10) };
    expect(await send(again)).toEqual(['duplicate']);
    expect((await westLevel()).onHand).toBe(40);
  });

  it('opens NEGATIVE_ON_HAND when a pick takes the level below zero', async () => {
    expect(await send({ id: id(), op: 'delta', code: row.code, location: row.location, onHandDelta: -45, eventTime: minutesAfterFile(31) })).toEqual([
      'applied',
    ]);
    await eventually(async () => {
      await app.store.anomalies.flush(5000);
      const rows: { sku: string; location: string }[] = await app.store
        .db('anomalies')
        .where({ kind: 'NEGATIVE_ON_HAND', source: 'tpl' })
        .select('sku', 'location');
      expect(rows).toContainEqual({ sku: 'SKU-000001', location: '3PL-WEST' });
    });
    expect((await westLevel()).flags).toContain('NEGATIVE_ON_HAND');
  });

  it('holds an unknown code and records it as an orphan', async () => {
    expect(await send({ id: id(), op: 'set', code: 'NEW-CODE-1', location: row.location, onHand: 3, eventTime: minutesAfterFile(5) })).toEqual(['applied']);
    await eventually(async () => {
      await app.store.anomalies.flush(5000);
      const rows: { code: string }[] = await app.store.db('anomalies').where({ kind: 'ORPHAN_CODE', source: 'tpl' }).select('code');
      expect(rows.map((r) => r.code)).toContain('NEW-CODE-1');
    });
  });

  it('dead-letters what it cannot apply, with the reason, and applies it once the config knows the location', async () => {
    const outcomes = await send(
      'not json {',
      { id: id(), op: 'delta', code: row.code, location: row.location, onHandDelta: 1.5, eventTime: minutesAfterFile(40) },
      { id: 'east-1', op: 'delta', code: row.code, location: 'W99', onHandDelta: -2, eventTime: minutesAfterFile(41) },
    );
    expect(outcomes).toEqual(['dead', 'dead', 'dead']);
    const listed = await cli('feeds', 'dlq', 'list', '--config', file, '--json');
    expect(listed.code).toBe(0);
    const letters = listed.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; reason: string; messageId: string | null });
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringMatching(/^not JSON/),
      expect.stringContaining('"onHandDelta" must be a whole number, not 1.5'),
      expect.stringContaining('unknown location "W99"'),
    ]);
    // the fix: W99 is a 3PL facility the config did not map; map it and restart
    await app.close();
    const doc = parseDocument(readFileSync(file, 'utf8'));
    const locations = doc.get('locations') as { items: unknown[] };
    locations.items.push(doc.createNode({ id: '3PL-EAST', codes: { tpl: 'W99' } }));
    writeFileSync(file, doc.toString());
    await start();
    expect((await cli('feeds', 'dlq', 'replay', '--config', file, '--source', 'tpl')).code).toBe(0);
    const sink = app.runtime.sinks.get('tpl');
    // the running gateway re-drives marked letters every second; do it now rather than wait
    expect(await sink?.redrive()).toEqual({ applied: 1, failed: 2 });
    const after = await app.store.feeds.deadLetters.list({ source: 'tpl' });
    expect(after.map((l) => l.attempts)).toEqual([2, 2]);
    expect(after.every((l) => l.replayRequestedAt === null)).toBe(true);
    expect(await send({ id: 'east-1', op: 'delta', code: row.code, location: 'W99', onHandDelta: -2, eventTime: minutesAfterFile(41) })).toEqual(['duplicate']);
  });

  it('lets the next daily file reconcile: picks before its asOf are in it, later ones stay on top', async () => {
    const next = new Date(new Date(row.asOf).getTime() + 86_400_000);
    const name = `inventory-${next.toISOString().slice(0, 10)}.csv`;
    const text = readFileSync(join(dir, '3pl', readdirSync(join(dir, '3pl')).sort().at(-1) as string), 'utf8').replaceAll(
      row.asOf,
      next.toISOString().replace('.000Z', 'Z'),
    );
    // a pick after the new file's asOf
    expect(
      await send({
        id: id(),
        op: 'delta',
        code: row.code,
        location: row.location,
        onHandDelta: -3,
        eventTime: new Date(next.getTime() + 60_000).toISOString(),
      }),
    ).toEqual(['applied']);
    writeFileSync(join(dir, '3pl', name), text);
    // the file source looks at its directory on read (at most every second)
    await new Promise((r) => setTimeout(r, 1100));
    await westLevel();
    await new Promise((r) => setTimeout(r, 300));
    const l = await westLevel();
    // the new file's figure, minus the one pick made after it; every earlier change is in the file
    expect(l.onHand).toBe(row.onHand - 3);
    expect(l.provenance.asOf).toBe(new Date(next.getTime() + 60_000).toISOString());
  });
});
