/**
 * What the events suites share: a demo gateway with an `events` section of the test's own (the
 * generated one, which publishes to RabbitMQ, is replaced), a clock the test moves, the outbox
 * read whole, holds made and released over GraphQL, and the check that a receiver got each
 * ordering key's events in the order they were written.
 */
import { randomBytes } from 'node:crypto';
import { parseDocument } from 'yaml';
import type { EventBody, StoredEvent } from '../../src/domain/events.js';
import { eventBody } from '../../src/domain/events.js';
import { startDemoApp, type DemoApp, type DemoAppOptions } from '../helpers/demo-app.js';

/** A Standard Webhooks secret, new per call. */
export const webhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** A clock that runs with the real one, `offset` ms ahead: tests move it to skip a backoff pause. */
export function movingClock(): { now: () => Date; advance: (ms: number) => void; offset: () => number } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => void (offset += ms), offset: () => offset };
}

/** A YAML edit that sets the whole `events` section (sinks, availability, intervals). */
export function withEvents(events: Record<string, unknown>, then?: (yaml: string) => string): (yaml: string) => string {
  return (yaml) => {
    const doc = parseDocument(then === undefined ? yaml : then(yaml));
    doc.set('events', doc.createNode(events));
    return doc.toString();
  };
}

/** A demo gateway whose `events` section is `events`; resolves once its events run. */
export async function startEventsDemo(o: Omit<DemoAppOptions, 'events'> & { events: Record<string, unknown> }): Promise<DemoApp> {
  const { events, editConfig, ...rest } = o;
  const demo = await startDemoApp({ ...rest, events: true, editConfig: withEvents(events, editConfig) });
  await demo.app.eventsStarted;
  if (demo.app.events === undefined) {
    await demo.close();
    throw new Error('the demo gateway has no events (no sink configured?)');
  }
  return demo;
}

/** `/status`, `/metrics` live next to `/graphql`. */
export const originOf = (graphqlUrl: string): string => new URL(graphqlUrl).origin;

/** Every event of the outbox, oldest first. */
export async function outbox(events: { list: (o: { limit: number; afterSeq?: number }) => Promise<StoredEvent[]> }): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (;;) {
    const got = await events.list({ limit: 5000, afterSeq: out.at(-1)?.seq ?? 0 });
    out.push(...got);
    if (got.length < 5000) return out;
  }
}

/** The JSON a sink sends for a stored event, as a receiver parses it. */
export const bodyOf = (e: StoredEvent): EventBody => JSON.parse(JSON.stringify(eventBody(e))) as EventBody;

/** Ids in the order they first arrived (a redelivery's later arrival dropped). */
export function firstArrivals(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/**
 * Where the first arrivals of `ids` break the order of the outbox within an ordering key (the
 * SKU; a reservation's, an anomaly's or a source's subject): one line per break, none when in order.
 */
export function orderBreaks(ids: readonly string[], written: readonly StoredEvent[]): string[] {
  const byId = new Map(written.map((e) => [e.id, e]));
  const lastSeq = new Map<string, number>();
  const breaks: string[] = [];
  for (const id of firstArrivals(ids)) {
    const e = byId.get(id);
    if (e === undefined) continue;
    const before = lastSeq.get(e.orderingKey) ?? 0;
    if (e.seq < before) breaks.push(`${e.orderingKey}: #${e.seq} (${e.type}) arrived after #${before}`);
    lastSeq.set(e.orderingKey, Math.max(before, e.seq));
  }
  return breaks;
}

export const RESERVE = `mutation Reserve($input: ReserveInput!) {
  reserve(input: $input) { reservation { id } shortfalls { sku code } }
}`;
export const RELEASE = `mutation Release($id: ID!) { releaseReservation(id: $id) { id status } }`;
export const AVAILABILITY = `query Availability($skus: [ID!]!, $channel: String) {
  availability(skus: $skus, channel: $channel) { sku available byLocation { location { id } available } }
}`;

export interface ChannelFigure {
  sku: string;
  available: number;
  byLocation: Array<{ location: { id: string }; available: number }>;
}

type Gql = DemoApp['gql'];

/** Holds `quantity` of `sku` at `locationId` for the web channel; answers the reservation id, or throws with what was answered. */
export async function reserveOne(gql: Gql, key: string, sku: string, quantity: number, locationId: string): Promise<string> {
  const r = await gql<{ reserve: { reservation: { id: string } | null } }>(RESERVE, {
    input: { idempotencyKey: key, channel: 'web', lines: [{ sku, quantity, locationId }] },
  });
  const id = r.body.data?.reserve.reservation?.id;
  if (id === undefined) throw new Error(`reserve ${key} held nothing: ${r.text}`);
  return id;
}

export async function release(gql: Gql, id: string): Promise<void> {
  const r = await gql<{ releaseReservation: { status: string } | null }>(RELEASE, { id });
  if (r.body.errors !== undefined) throw new Error(`release ${id}: ${r.text}`);
}

/** Figures for `channel` (null: over every location). */
export async function figures(gql: Gql, skus: readonly string[], channel: string | null): Promise<ChannelFigure[]> {
  const r = await gql<{ availability: ChannelFigure[] }>(AVAILABILITY, { skus, channel });
  if (r.body.errors !== undefined) throw new Error(`availability: ${r.text}`);
  return r.body.data?.availability ?? [];
}

/** `n` SKUs of the demo with at least `units` available at `locationId` on the web channel. */
export async function stockedSkus(demo: DemoApp, n: number, units: number, locationId = 'DC-EAST'): Promise<string[]> {
  const all = (await demo.app.store.skus.page(200, null)).skus.map((s) => s.sku);
  const web = await figures(demo.gql, all, 'web');
  const found = web.filter((f) => (f.byLocation.find((l) => l.location.id === locationId)?.available ?? 0) >= units).map((f) => f.sku);
  if (found.length < n) throw new Error(`only ${found.length} SKUs of the demo have ${units} units at ${locationId}`);
  return found.slice(0, n);
}
