/**
 * The demo, with RabbitMQ running, publishes events that `inventory-graph events tail` prints
 * live: the gateway runs the demo's own events config (the amqp sink `broker` on
 * amqp://guest:guest@127.0.0.1:5672, lowStock 5), the command runs as a user runs it (a child
 * process on bin/inventory-graph.mjs), follows the sink through a queue of its own, prints each
 * event a hold causes as a JSON line (the body the outbox holds) and exits 0 after --limit.
 * `events tail --outbox` prints from the store with no broker at all, and `events list` prints
 * the outbox, newest first, as text or JSON lines filtered by type.
 *
 * One change to the generated config: the exchange is named for this run, so that other suites'
 * demos (which publish to the same broker) and a developer's running demo are not tailed too.
 */
import Database from 'better-sqlite3';
import { connect as amqpConnect } from 'amqplib';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventBody, type EventBody } from '../../src/domain/events.js';
import { eventually } from '../feeds/feed-helpers.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { runCli } from '../helpers/serving.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
const BROKER = 'amqp://guest:guest@127.0.0.1:5672';
const EXCHANGE = `inventory-graph.events.test-${process.pid}-${randomBytes(4).toString('hex')}`;
/** SKUs with a WMS and an ERP code and none at the 3PL: their figures are set before the start. */
const SKU_TAIL = 'SKU-000003';
const SKU_OUTBOX = 'SKU-000004';
const RESERVE = `mutation R($input: ReserveInput!) { reserve(input: $input) { reservation { id } shortfalls { detail } } }`;
const RELEASE = `mutation L($id: ID!) { releaseReservation(id: $id) { id status } }`;

let demo: DemoApp;
const children = new Set<ChildProcessWithoutNullStreams>();

/** `sku` at `units` in one WMS bin at EAST and 0 everywhere else (its other bins and its ERP balances). */
function setStock(dir: string, sku: string, units: number): void {
  const row = readFileSync(join(dir, 'sku-map.csv'), 'utf8')
    .split('\n')
    .map((l) => l.split(','))
    .find((c) => c[0] === sku);
  if (row === undefined || row[5] !== '') throw new Error(`${sku} is not a WMS-only SKU`);
  const [erpCode, wmsCode] = [row[2] as string, row[3] as string];
  const wms = new Database(join(dir, 'wms.sqlite'));
  const erp = new Database(join(dir, 'erp.sqlite'));
  try {
    wms.prepare('update bin_stock set qty = 0 where item_code = ?').run(wmsCode);
    wms.prepare("update bin_stock set qty = ? where rowid = (select min(rowid) from bin_stock where item_code = ? and wh = 'EAST')").run(units, wmsCode);
    erp.prepare('update inv_balance set qty = 0 where item_no = ?').run(erpCode);
  } finally {
    wms.close();
    erp.close();
  }
}

beforeAll(async () => {
  demo = await startDemoApp({
    skus: 60,
    events: true,
    editConfig: (yaml) => {
      if (!yaml.includes('exchange: inventory-graph.events')) throw new Error('the demo config has no events exchange');
      return yaml.replace('exchange: inventory-graph.events', `exchange: ${EXCHANGE}`);
    },
    prepare: (dir) => {
      setStock(dir, SKU_TAIL, 3);
      setStock(dir, SKU_OUTBOX, 8);
    },
  });
  await demo.app.eventsStarted;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await demo?.close();
  const conn = await amqpConnect(BROKER);
  try {
    const ch = await conn.createChannel();
    await ch.deleteExchange(EXCHANGE);
  } finally {
    await conn.close();
  }
});

const config = () => join(demo.dir, 'inventory-graph.yaml');

/** `inventory-graph ARGS` running: its output so far, and its exit code once it exits. */
async function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  // it says what it follows on stderr once its queue is bound (or the outbox read)
  await eventually(() => {
    expect(code, `exited early: ${stderr}`).toBeUndefined();
    expect(stderr).toMatch(/^following /m);
  }, 30_000);
  return { stdout: () => stdout, stderr: () => stderr, exited };
}

const run = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'warn' } });

async function gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await demo.gql<T>(query, variables);
  expect(r.body.errors).toBeUndefined();
  return r.body.data as T;
}

/** Holds `quantity` of `sku` at DC-EAST for web, then releases it; answers the reservation id. */
async function holdAndRelease(sku: string, quantity: number): Promise<string> {
  const r = await gql<{ reserve: { reservation: { id: string } | null } }>(RESERVE, {
    input: { idempotencyKey: `tail-${randomBytes(8).toString('hex')}`, channel: 'web', lines: [{ sku, quantity, locationId: 'DC-EAST' }] },
  });
  const id = r.reserve.reservation?.id as string;
  expect(id).toMatch(/^res_/);
  await demo.app.events?.availability.flush();
  await gql(RELEASE, { id });
  await demo.app.events?.availability.flush();
  return id;
}

/** The outbox's events of `types`, oldest first, as bodies. */
async function outbox(types: string[]): Promise<EventBody[]> {
  return (await demo.app.store.events.list({ limit: 10_000, types })).reverse().map(eventBody);
}

const lines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as EventBody);

describe('inventory-graph events', () => {
  it('tail follows the demo’s RabbitMQ sink and prints what a hold causes, live, as JSON lines; exits 0 after --limit', async () => {
    // the demo's events config, as generated
    expect(demo.app.config.events.sinks.broker).toMatchObject({ kind: 'amqp', url: BROKER, exchange: EXCHANGE });
    expect(demo.app.config.events.availability.lowStock.default).toBe(5);

    const tail = await start(['events', 'tail', '--config', config(), '--json', '--limit', '6', '--type', 'reservation.*,availability.changed']);
    expect(tail.stderr()).toContain(`following sink "broker": exchange ${EXCHANGE} on RabbitMQ`);
    // 3 units held: the SKU is out on web and retail (both count DC-EAST); released, it is back
    const id = await holdAndRelease(SKU_TAIL, 3);
    expect(await tail.exited).toBe(0);

    const printed = lines(tail.stdout());
    const written = (await outbox(['reservation.*', 'availability.changed'])).filter(
      (e) => e.sku === SKU_TAIL || (e.data.reservation as { id?: string } | undefined)?.id === id,
    );
    const describe = (e: EventBody) =>
      e.type === 'availability.changed'
        ? `${e.type} ${e.sku} ${e.channel} ${String(e.data.crossing)}`
        : `${e.type} ${(e.data.reservation as { id: string }).id}`;
    expect(written.map(describe).sort()).toEqual(
      [
        `reservation.created ${id}`,
        `reservation.released ${id}`,
        `availability.changed ${SKU_TAIL} web OUT_OF_STOCK`,
        `availability.changed ${SKU_TAIL} retail OUT_OF_STOCK`,
        `availability.changed ${SKU_TAIL} web BACK_IN_STOCK`,
        `availability.changed ${SKU_TAIL} retail BACK_IN_STOCK`,
      ].sort(),
    );
    // exactly the outbox's events, byte for byte as the broker carried them, in the outbox's order per subject
    expect(printed).toHaveLength(6);
    expect([...printed].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...written].sort((a, b) => a.id.localeCompare(b.id)));
    for (const key of ['web', 'retail']) {
      const order = (list: EventBody[]) => list.filter((e) => e.channel === key && e.type === 'availability.changed').map((e) => e.id);
      expect(order(printed)).toEqual(order(written));
    }
    expect(printed.filter((e) => e.type.startsWith('reservation.')).map((e) => e.type)).toEqual(['reservation.created', 'reservation.released']);
  });

  it('tail --outbox prints from the store with no broker at all', async () => {
    // the config's broker, as this command reads it, is a port nothing listens on
    const noBroker = { INVENTORY_GRAPH_DEMO_AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' };
    const tail = await start(['events', 'tail', '--outbox', '--config', config(), '--json', '--limit', '2', '--type', 'reservation.*'], noBroker);
    expect(tail.stderr()).toContain('following the outbox of');
    const id = await holdAndRelease(SKU_OUTBOX, 2);
    expect(await tail.exited).toBe(0);
    const printed = lines(tail.stdout());
    expect(printed.map((e) => `${e.type} ${(e.data.reservation as { id: string }).id}`)).toEqual([`reservation.created ${id}`, `reservation.released ${id}`]);
    const written = (await outbox(['reservation.*'])).filter((e) => (e.data.reservation as { id: string }).id === id);
    expect(printed).toEqual(written);
  });

  it('list prints the outbox newest first, as text or as JSON lines of one family', async () => {
    await demo.app.events?.publisher.drain(10_000);
    const reservations = (await demo.app.store.events.list({ limit: 50, types: ['reservation.*'] })).map(eventBody);
    expect(reservations.map((e) => e.type)).toEqual(['reservation.released', 'reservation.created', 'reservation.released', 'reservation.created']);

    const text = await run(['events', 'list', '--config', config()]);
    expect(text.code).toBe(0);
    const rows = text.stdout.split('\n').filter((l) => l.startsWith('#'));
    // each row is the outbox's event at its position, newest first (read after: the gateway may write more meanwhile)
    const printed = rows.map((l) => ({ seq: Number(/^#(\d+) /.exec(l)?.[1]), id: /\[([0-9a-f-]{36})\]$/.exec(l)?.[1] }));
    const byPosition = new Map((await demo.app.store.events.list({ limit: 10_000 })).map((e) => [e.seq, e.id]));
    expect(printed.map((r) => byPosition.get(r.seq))).toEqual(printed.map((r) => r.id));
    expect(printed.map((r) => r.seq)).toEqual([...printed.map((r) => r.seq)].sort((a, b) => b - a));
    expect(printed.length).toBe(Math.min(50, [...byPosition.keys()].filter((seq) => seq <= (printed[0]?.seq ?? 0)).length));
    expect(printed.map((r) => r.id)).toEqual(expect.arrayContaining(reservations.map((e) => e.id)));
    // the first figure published for a SKU has no previous one; the next ones do
    expect(rows.find((l) => l.includes('availability.changed') && l.includes('BACK_IN_STOCK'))).toMatch(
      new RegExp(`availability\\.changed ${SKU_TAIL} (web|retail) BACK_IN_STOCK 0 → 3`),
    );
    expect(rows.find((l) => l.includes('availability.changed') && l.includes('OUT_OF_STOCK'))).toMatch(
      new RegExp(`availability\\.changed ${SKU_TAIL} (web|retail) OUT_OF_STOCK \\? → 0`),
    );

    const json = await run(['events', 'list', '--type', 'reservation.*', '--json', '--config', config()]);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(lines(json.stdout)).toEqual(reservations);
  });
});
