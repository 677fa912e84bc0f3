/**
 * The explorer's example tabs: each titled after the task it does ("Negative stock", "Route an
 * order", ...) and filled in from this gateway's own config and data, never from names this code
 * assumes: the channel and destination come from `locations`, the two compared systems from
 * `precedence.quantity` and `locations[].codes`, the SKUs and the anomaly id from a small sample
 * of the store and the sources (`sampleExamples`, a bounded read). Each tab's text is the
 * published trusted document of the same operation (documents/*.graphql, src/server/documents.ts),
 * so what the explorer shows is what a client may call by id.
 */
import type { Config } from '../config/index.js';
import type { AnomalyFilter, AnomalyPage } from '../domain/anomalies.js';
import type { Availability } from '../domain/availability.js';
import type { CanonicalSku } from '../domain/skus.js';
import { documentNamed, trustedDocuments, type PersistedQueryManifest } from './documents.js';

export interface ExampleOperation {
  /** The explorer tab's title: the task it does. */
  name: string;
  /** The trusted document's body. */
  query: string;
  variables: Record<string, unknown>;
}

/** A SKU with stock available, and where. */
export interface StockedSku {
  sku: string;
  available: number;
  /** Locations with some of it available. */
  locations: number;
}

/** What the examples are filled in with: the data of this gateway, read by `sampleExamples`. */
export interface ExampleSamples {
  /** The first SKUs of the SKU map: what an example falls back to. */
  skus: readonly string[];
  /** SKUs with stock available, those available at the most locations first. */
  stocked?: readonly StockedSku[];
  /** A SKU with a flag raised somewhere (a negative on-hand first). */
  flagged?: string | null;
  /** The newest open anomaly's id (a NEGATIVE_ON_HAND one first), for the Acknowledge tab. */
  openAnomaly?: string | null;
  /** A code a system keeps for a stocked SKU, for the Resolve tab. */
  code?: { system: string; code: string } | null;
}

/** The id the Acknowledge tab shows when the store has no open anomaly: the document says where to take one. */
export const PLACEHOLDER_ANOMALY_ID = '0';

/**
 * The two stock systems the "ERP vs WMS" tab compares, and the locations both know. The
 * authority is the first source of `precedence.quantity` that maps `stock`; the other is the
 * stock source sharing the most locations with it (both have a code in `locations[].codes`),
 * ties going to the higher precedence (then config order): two systems that hold no location in
 * common have nothing to disagree on. The title names the other system first, upper-cased
 * ("ERP vs WMS": what the ERP says against the WMS that availability trusts). Null with fewer
 * than two stock sources.
 */
export function comparedSources(config: Config): { title: string; authority: string; other: string; locationIds: string[] } | null {
  const stock = Object.keys(config.sources).filter((s) => config.sources[s]?.stock !== undefined);
  const rank = (s: string) => {
    const i = config.precedence.quantity.indexOf(s);
    return i < 0 ? config.precedence.quantity.length + stock.indexOf(s) : i;
  };
  const ordered = [...stock].sort((a, b) => rank(a) - rank(b));
  const authority = ordered[0];
  if (authority === undefined || ordered.length < 2) return null;
  const shared = (s: string) => config.locations.filter((l) => l.codes[authority] !== undefined && l.codes[s] !== undefined).map((l) => l.id);
  let other = ordered[1] as string;
  for (const s of ordered.slice(2)) if (shared(s).length > shared(other).length) other = s;
  return { title: `${other.toUpperCase()} vs ${authority.toUpperCase()}`, authority, other, locationIds: shared(other) };
}

/**
 * The channel and destination the Route and availability tabs use: the first channel named by the
 * sellable location that comes first in routing (`priority`, then config order), none when no
 * location names a channel; the destination is the coordinates of the last located location
 * that serves that channel (an order going there shows the distances from the others), none
 * when no location has coordinates.
 */
export function exampleChannel(config: Config): { channel: string | null; destination: { latitude: number; longitude: number } | null } {
  const byPriority = config.locations
    .map((l, i) => ({ l, i }))
    .sort((a, b) => a.l.priority - b.l.priority || a.i - b.i)
    .map((x) => x.l);
  const channel = byPriority.find((l) => l.sellable && l.channels !== undefined && l.channels.length > 0)?.channels?.[0] ?? null;
  const located = config.locations.filter(
    (l) => l.latitude !== undefined && l.longitude !== undefined && (channel === null || l.channels === undefined || l.channels.includes(channel)),
  );
  const at = located.at(-1);
  return { channel, destination: at === undefined ? null : { latitude: at.latitude as number, longitude: at.longitude as number } };
}

/**
 * The example tabs, in the order the explorer shows them. `samples` may be only SKUs (the first
 * of the map): every example then uses them.
 */
export function exampleOperations(
  samples: ExampleSamples | readonly string[],
  config: Config,
  manifest: PersistedQueryManifest = trustedDocuments(),
): ExampleOperation[] {
  const s: ExampleSamples = isSkuList(samples) ? { skus: samples } : samples;
  const first = s.skus.length > 0 ? [...s.skus] : ['SKU-000001'];
  const stocked = (s.stocked ?? []).map((x) => x.sku);
  const unique = (xs: readonly (string | null | undefined)[]) => [...new Set(xs.filter((x): x is string => typeof x === 'string'))];
  // a SKU available at several locations and one with a flag, then the map's first ones
  const showing = unique([stocked[0], s.flagged, ...stocked.slice(1), ...first]).slice(0, 3);
  const compared = comparedSources(config);
  const { channel, destination } = exampleChannel(config);
  const firstStockSource =
    compared?.authority ?? Object.keys(config.sources).find((n) => config.sources[n]?.stock !== undefined) ?? Object.keys(config.sources)[0] ?? 'erp';
  const lines = (s.stocked !== undefined && s.stocked.length > 0 ? s.stocked.slice(0, 3) : first.slice(0, 3).map((sku) => ({ sku, available: 5 }))).map(
    (x, i) => ({
      sku: x.sku,
      quantity: Math.max(1, Math.min(x.available, 5 * (i + 1))),
    }),
  );
  const example = (name: string, document: string, variables: Record<string, unknown>): ExampleOperation => ({
    name,
    query: documentNamed(document, manifest).body,
    variables,
  });
  return [
    example('Available to promise', 'Availability', { skus: showing, ...(channel === null ? {} : { channel }) }),
    example('Negative stock', 'NegativeStock', {}),
    example(
      compared?.title ?? 'Compare systems',
      'CompareSources',
      compared === null ? {} : { locationIds: compared.locationIds, sources: [compared.other, compared.authority] },
    ),
    example('Route an order', 'Route', {
      order: {
        lines,
        ...(destination === null ? {} : { destination }),
        ...(channel === null ? {} : { channel }),
        strategy: 'FEWEST_SHIPMENTS',
      },
    }),
    example('Acknowledge an anomaly', 'AcknowledgeAnomaly', {
      id: s.openAnomaly ?? PLACEHOLDER_ANOMALY_ID,
      note: 'Looking into it',
    }),
    example('Item with cost', 'Item', { sku: showing[0] }),
    example('Reconcile SKUs', 'Reconcile', { skus: showing, tolerance: 0 }),
    example('Open anomalies', 'Anomalies', {}),
    example('Browse the catalogue', 'Catalogue', {}),
    example('Locations and sources', 'Setup', {}),
    example('Resolve a code', 'Resolve', s.code ?? { system: firstStockSource, code: 'UNKNOWN-CODE' }),
  ];
}

function isSkuList(samples: ExampleSamples | readonly string[]): samples is readonly string[] {
  return Array.isArray(samples);
}

/** What `sampleExamples` reads through: the store and the availability service. */
export interface ExampleReads {
  /** The first `n` SKUs of the SKU map, with their codes. */
  firstSkus(n: number): Promise<readonly CanonicalSku[]>;
  anomalies(filter: AnomalyFilter, first: number): Promise<AnomalyPage>;
  availability(skus: readonly string[]): Promise<readonly Availability[]>;
}

/** SKUs of the map read for the samples: one availability read, whatever the catalogue's size. */
export const SAMPLED_SKUS = 20;

/**
 * The examples' samples, read with a bounded cost: the first `SAMPLED_SKUS` SKUs of the map and
 * their availability (one read: a statement per live source and entity), the newest open
 * NEGATIVE_ON_HAND anomaly (else the newest open one). A read that fails leaves its part out:
 * the examples fall back to the map's first SKUs and a placeholder id.
 */
export async function sampleExamples(reads: ExampleReads, config: Config): Promise<ExampleSamples> {
  const settle = <T>(p: () => Promise<T>): Promise<T | undefined> => p().catch(() => undefined);
  const skus = (await settle(() => reads.firstSkus(SAMPLED_SKUS))) ?? [];
  const [availability, negative] = await Promise.all([
    skus.length === 0 ? Promise.resolve(undefined) : settle(() => reads.availability(skus.map((s) => s.sku))),
    settle(() => reads.anomalies({ kinds: ['NEGATIVE_ON_HAND'], statuses: ['OPEN'] }, 1)),
  ]);
  const open = negative?.anomalies[0] ?? (await settle(() => reads.anomalies({ statuses: ['OPEN'] }, 1)))?.anomalies[0];
  const stocked = (availability ?? [])
    .filter((a) => a.known && a.available > 0)
    .map((a) => ({ sku: a.sku, available: a.available, locations: a.byLocation.filter((l) => l.available > 0).length }))
    .sort((a, b) => b.locations - a.locations);
  const flagged = negative?.anomalies[0]?.sku ?? (availability ?? []).find((a) => a.known && a.flags.length > 0)?.sku ?? null;
  const top = stocked[0] === undefined ? skus[0] : skus.find((s) => s.sku === stocked[0]?.sku);
  const authority = comparedSources(config)?.authority;
  const alias = top?.aliases.find((a) => a.system === authority) ?? top?.aliases[0];
  return {
    skus: skus.slice(0, 3).map((s) => s.sku),
    stocked,
    flagged,
    openAnomaly: open?.id ?? null,
    code: alias === undefined ? null : { system: alias.system, code: alias.code },
  };
}
