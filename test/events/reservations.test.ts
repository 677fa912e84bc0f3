/**
 * Every step of a hold is one reservation.* event, in the order the steps happened, written with
 * the step (docs/events.md): created, extended, confirmed, handed_over (the WMS took the order,
 * found by the sweeper in its pick_orders), released, expired (the sweeper marks it, on the
 * gateway's clock moved past the TTL). And a CONFIRMED hold that stops counting on its own, past
 * confirmedHoldSeconds with no order seen, makes its SKU's figure rise: that is published too
 * (the sweeper marks the SKU).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EventBody } from '../../src/domain/events.js';
import { eventually } from '../feeds/feed-helpers.js';
import type { DemoApp } from '../helpers/demo-app.js';
import { bodyOf, figures, movingClock, outbox, release, RESERVE, reserveOne, startEventsDemo, stockedSkus } from './helpers.js';

const clock = movingClock();
let demo: DemoApp;
let skus: string[];

beforeAll(async () => {
  demo = await startEventsDemo({
    skus: 40,
    now: clock.now,
    override: { reservations: { sweepIntervalSeconds: 3600, confirmedHoldSeconds: 120 } },
    // the outbox alone is looked at: a sink is needed for events to be written, the receiver is not
    events: { pollIntervalMs: 50, sourceCheckSeconds: 3600, sinks: { none: { kind: 'webhook', url: 'http://127.0.0.1:9/none', maxAttempts: 1000 } } },
  });
  skus = await stockedSkus(demo, 3, 3);
});

afterAll(async () => {
  await demo?.close();
});

type Reservation = { id: string; status: string; lines: { sku: string; quantity: number }[] };
const reservationOf = (b: EventBody) => b.data.reservation as Reservation;

async function stepsOf(id: string): Promise<string[]> {
  return (await outbox(demo.app.store.events))
    .map(bodyOf)
    .filter((b) => b.type.startsWith('reservation.') && reservationOf(b).id === id)
    .map((b) => `${b.type}:${reservationOf(b).status}`);
}

async function gql(query: string, variables: Record<string, unknown>): Promise<void> {
  const r = await demo.gql(query, variables);
  if (r.body.errors !== undefined) throw new Error(r.text);
}

it('created, extended, confirmed, handed over: one event each, in order; then released and expired ones', async () => {
  const [a, b, c] = skus as [string, string, string];
  const id = await reserveOne(demo.gql, 'steps-1', a, 2, 'DC-EAST');
  await gql('mutation ($id: ID!) { extendReservation(id: $id, ttlSeconds: 1800) { id } }', { id });
  await gql('mutation ($id: ID!, $ref: String) { confirmReservation(id: $id, reference: $ref) { id } }', { id, ref: 'EV-1001' });
  // confirming again with the same reference changes nothing: no event
  await gql('mutation ($id: ID!, $ref: String) { confirmReservation(id: $id, reference: $ref) { id } }', { id, ref: 'EV-1001' });
  const wms = new Database(join(demo.dir, 'wms.sqlite'));
  try {
    const item = (wms.prepare('select item_code from bin_stock where wh = ? limit 1').get('EAST') as { item_code: string }).item_code;
    wms.prepare('insert into pick_orders (order_ref, item_code, wh, qty) values (?, ?, ?, ?)').run('EV-1001', item, 'EAST', 2);
  } finally {
    wms.close();
  }
  await demo.app.runtime.sweeper.sweep();
  expect(await stepsOf(id)).toEqual([
    'reservation.created:ACTIVE',
    'reservation.extended:ACTIVE',
    'reservation.confirmed:CONFIRMED',
    'reservation.handed_over:CONFIRMED',
  ]);
  const handed = (await outbox(demo.app.store.events)).map(bodyOf).find((x) => x.type === 'reservation.handed_over');
  expect(reservationOf(handed as EventBody)).toMatchObject({ handedOverBy: 'wms', reference: 'EV-1001', lines: [{ sku: a, quantity: 2 }] });

  const released = await reserveOne(demo.gql, 'steps-2', b, 1, 'DC-EAST');
  await release(demo.gql, released);
  const expiring = await reserveOne(demo.gql, 'steps-3', c, 1, 'DC-EAST');
  clock.advance(901_000); // past the default TTL of 900 s
  await demo.app.runtime.sweeper.sweep();
  expect(await stepsOf(released)).toEqual(['reservation.created:ACTIVE', 'reservation.released:RELEASED']);
  expect(await stepsOf(expiring)).toEqual(['reservation.created:ACTIVE', 'reservation.expired:EXPIRED']);
  const expired = (await outbox(demo.app.store.events)).map(bodyOf).find((x) => x.type === 'reservation.expired');
  // it ended at its expiry, not at the sweep
  expect(reservationOf(expired as EventBody)).toMatchObject({ endedAt: (expired?.data.reservation as { expiresAt: string }).expiresAt });
});

it('a CONFIRMED hold that stops counting on its own (no order seen) makes its SKU rise: published after the sweep', async () => {
  const sku = skus[1] as string;
  const [before] = await figures(demo.gql, [sku], 'web');
  // every unit the web channel has, where it is
  const lines = before!.byLocation.filter((l) => l.available > 0).map((l) => ({ sku, quantity: l.available, locationId: l.location.id }));
  const r = await demo.gql<{ reserve: { reservation: { id: string } | null } }>(RESERVE, { input: { idempotencyKey: 'own-1', channel: 'web', lines } });
  const id = r.body.data?.reserve.reservation?.id as string;
  expect(id).toBeDefined();
  await gql('mutation ($id: ID!, $ref: String) { confirmReservation(id: $id, reference: $ref) { id } }', { id, ref: 'NEVER-SEEN' });
  const crossings = async () =>
    (await outbox(demo.app.store.events))
      .map(bodyOf)
      .filter((x) => x.type === 'availability.changed' && x.sku === sku && x.channel === 'web')
      .map((x) => x.data.crossing);
  await demo.app.events?.availability.flush();
  await eventually(async () => expect((await crossings()).at(-1)).toBe('OUT_OF_STOCK'));
  const [held] = await figures(demo.gql, [sku], 'web');
  expect(held!.available).toBe(0);
  clock.advance(121_000); // past confirmedHoldSeconds: the hold stops counting, no transaction
  await demo.app.runtime.sweeper.sweep();
  await demo.app.events?.availability.flush();
  await eventually(async () => expect((await crossings()).at(-1)).toBe('BACK_IN_STOCK'));
});
