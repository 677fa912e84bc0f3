/**
 * Reservations across a crash: the real command (`node bin/inventory-graph.mjs start`, its store
 * a MariaDB database) takes a stream of reserves (distinct idempotency keys, 8 in flight) and is
 * killed with SIGKILL mid-stream, once a random share of them is acknowledged: some answered,
 * some in flight (committed or not), some never sent. It is started again on the same store, and:
 *
 * - every acknowledged hold (HTTP 200 with a reservation id) is in the store, once, whole (its
 *   lines, its key); no reservation lacks its key or its lines; no key has two reservations;
 * - every key of the stream, retried with the same input: an acknowledged hold answers the same
 *   reservation, replayed; a key whose reserve committed unanswered answers that reservation,
 *   replayed; any other holds anew (or is refused for stock), once: a second retry replays it;
 * - the units held never exceed what the source can promise, and availability agrees;
 * - at the end no session or transaction of any of the processes is left on the store.
 *
 * Three rounds, each killed at its own point, on the same store and SKU: the stock runs out in
 * the later rounds, so refusals and retries near the last units are part of it.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../feeds/feed-helpers.js';
import { startGateway, type GatewayChild } from '../helpers/serving.js';
import { availability, createReserveDemo, reserve, seeded, sessionsOn, unitsOf, type ReserveAnswer, type ReserveDemo, type ReserveInput } from './helpers.js';

const ROUNDS = 3;
/** Reserves per round, and at most this many in flight. */
const N = 60;
const IN_FLIGHT = 8;
/** What the source can promise: less than the ~90 units a round asks, times the rounds: it runs out in the last round. */
const STOCK = 220;

let demo: ReserveDemo;
let sku: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  demo = await createReserveDemo({ tag: 'crash' });
  sku = demo.spareSkus[0] as string;
  demo.setStock(sku, STOCK);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await demo?.cleanup();
});

const startChild = (): Promise<GatewayChild> => startGateway(demo.file, children);

type Outcome = { kind: 'answered'; answer: ReserveAnswer } | { kind: 'lost'; why: string } | { kind: 'unsent' };

/**
 * Sends the round's reserves, IN_FLIGHT at a time, and SIGKILLs the gateway once `killAt` are
 * answered; nothing more is sent after the kill.
 */
async function streamAndKill(g: GatewayChild, inputs: ReserveInput[], killAt: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = inputs.map(() => ({ kind: 'unsent' }));
  let next = 0;
  let answered = 0;
  let killed = false;
  async function sender(): Promise<void> {
    while (!killed && next < inputs.length) {
      const i = next++;
      try {
        const r = await reserve(g.url, demo.keys.storefront, inputs[i] as ReserveInput);
        // an answer is an answer: any GraphQL error in it fails the test below
        expect(r.body.errors).toBeUndefined();
        expect(r.status).toBe(200);
        outcomes[i] = { kind: 'answered', answer: r.body.data?.reserve as ReserveAnswer };
        if (++answered >= killAt && !killed) {
          killed = true;
          g.child.kill('SIGKILL');
        }
      } catch (e) {
        if (!killed) throw e;
        outcomes[i] = { kind: 'lost', why: (e as Error).message };
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => sender()));
  expect(killed).toBe(true);
  expect(await g.exited).toBeNull();
  return outcomes;
}

/** The store as a whole is consistent: every reservation whole, with its one key; every key with its reservation. */
async function checkStoreIntegrity(inputsByKey: Map<string, ReserveInput>): Promise<Map<string, string>> {
  const db = demo.store;
  const reservations: Array<{ id: string }> = await db('reservations').select('id');
  const keys: Array<{ owner: string; idempotency_key: string; reservation_id: string }> = await db('reservation_keys').select(
    'owner',
    'idempotency_key',
    'reservation_id',
  );
  const lines: Array<{ reservation_id: string; sku: string; location: string; quantity: number | string }> = await db('reservation_lines').select(
    'reservation_id',
    'sku',
    'location',
    'quantity',
  );
  // one key row per reservation and one reservation per key row: none half-written, none twice
  expect(keys.map((k) => k.reservation_id).sort()).toEqual(reservations.map((r) => r.id).sort());
  expect(new Set(keys.map((k) => `${k.owner}/${k.idempotency_key}`)).size).toBe(keys.length);
  const byKey = new Map(keys.map((k) => [k.idempotency_key, k.reservation_id]));
  // every reservation holds exactly what its key's request asked, all of it at DC-EAST
  for (const k of keys) {
    const input = inputsByKey.get(k.idempotency_key);
    expect(input, `a key the stream never sent: ${k.idempotency_key}`).toBeDefined();
    const own = lines.filter((l) => l.reservation_id === k.reservation_id);
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((l) => l.sku === sku && l.location === 'DC-EAST')).toBe(true);
    expect(own.reduce((n, l) => n + Number(l.quantity), 0)).toBe(input?.lines.reduce((n, l) => n + l.quantity, 0));
  }
  expect(new Set(lines.map((l) => l.reservation_id)).size).toBe(reservations.length);
  return byKey;
}

describe('a gateway on a MariaDB store killed with SIGKILL in a stream of reserves, and started again', () => {
  it(`keeps every acknowledged hold once, and retries of every key hold nothing twice (${ROUNDS} rounds)`, async () => {
    const rnd = seeded(1616);
    const inputsByKey = new Map<string, ReserveInput>();
    const tally = { acknowledgedHolds: 0, acknowledgedRefusals: 0, lostCommitted: 0, lostNotCommitted: 0, unsent: 0, retriedNewHolds: 0, retriedRefused: 0 };
    let g = await startChild();
    for (let round = 0; round < ROUNDS; round++) {
      const inputs: ReserveInput[] = Array.from({ length: N }, (_, i) => ({
        idempotencyKey: `crash-${round}-${i}`,
        lines: [{ sku, quantity: 1 + (i % 2), ...(i % 3 === 0 ? {} : { locationId: 'DC-EAST' }) }],
      }));
      for (const input of inputs) inputsByKey.set(input.idempotencyKey, input);
      const killAt = Math.floor(N * (0.2 + rnd() * 0.4));
      const outcomes = await streamAndKill(g, inputs, killAt);

      g = await startChild();
      const stored = await checkStoreIntegrity(inputsByKey);
      // every acknowledged hold is there, under its key
      outcomes.forEach((o, i) => {
        const key = (inputs[i] as ReserveInput).idempotencyKey;
        if (o.kind === 'answered' && o.answer.reservation !== null) {
          tally.acknowledgedHolds++;
          expect(stored.get(key)).toBe(o.answer.reservation.id);
        } else if (o.kind === 'answered') {
          tally.acknowledgedRefusals++;
          // a refusal writes nothing
          expect(stored.has(key)).toBe(false);
        } else if (o.kind === 'lost') {
          if (stored.has(key)) tally.lostCommitted++;
          else tally.lostNotCommitted++;
        } else {
          tally.unsent++;
          expect(stored.has(key)).toBe(false);
        }
      });

      // every key retried with the same input
      const retries = await Promise.all(inputs.map((input) => reserve(g.url, demo.keys.storefront, input)));
      retries.forEach((r, i) => {
        const key = (inputs[i] as ReserveInput).idempotencyKey;
        expect(r.body.errors).toBeUndefined();
        const answer = r.body.data?.reserve as ReserveAnswer;
        const before = stored.get(key);
        if (before !== undefined) {
          // held before the kill (answered or not): the same reservation, replayed
          expect(answer).toMatchObject({ replayed: true, reservation: { id: before } });
        } else {
          expect(answer.replayed).toBe(false);
          if (answer.reservation !== null) tally.retriedNewHolds++;
          else tally.retriedRefused++;
        }
        if (answer.reservation !== null) expect(unitsOf(answer)).toBe((inputs[i] as ReserveInput).lines[0]?.quantity);
      });
      const afterRetry = await checkStoreIntegrity(inputsByKey);
      // and once more: every key that holds answers its one reservation
      const again = await Promise.all(inputs.map((input) => reserve(g.url, demo.keys.storefront, input)));
      again.forEach((r, i) => {
        const held = afterRetry.get((inputs[i] as ReserveInput).idempotencyKey);
        if (held !== undefined) expect(r.body.data?.reserve).toMatchObject({ replayed: true, reservation: { id: held } });
      });
      expect(await checkStoreIntegrity(inputsByKey)).toEqual(afterRetry);

      // never more held than the source can promise; the store, its keys and availability agree
      const heldUnits = await demo.heldInStore(sku);
      expect(heldUnits).toBeLessThanOrEqual(STOCK);
      const fromKeys = [...afterRetry.keys()].reduce((n, k) => n + (inputsByKey.get(k)?.lines[0]?.quantity ?? 0), 0);
      expect(heldUnits).toBe(fromKeys);
      const av = await availability(g.url, demo.keys.storefront, sku);
      expect({ available: av.available, reserved: av.reserved }).toEqual({ available: STOCK - heldUnits, reserved: heldUnits });
      console.info(`round ${round}: SIGKILL after ${killAt} answers; ${afterRetry.size} reservations, ${heldUnits} of ${STOCK} units held`);
    }
    console.info('reserves across the kills:', tally);
    expect(tally.acknowledgedHolds).toBeGreaterThan(0);
    expect(tally.lostCommitted + tally.lostNotCommitted).toBeGreaterThan(0);

    g.child.kill('SIGTERM');
    expect(await g.exited).toBe(0);
    // the killed processes' sessions went with their sockets (their transactions rolled back),
    // the last one closed its own: nothing is left on the store
    await eventually(async () => expect(await sessionsOn(demo.store, demo.database)).toEqual({ sessions: [], trx: 0 }), 10_000);
  }, 120_000);
});
