/**
 * The operations the explorer opens with: each a real question a storefront, an OMS or an
 * analyst asks, filled in with SKUs and codes that exist in this gateway's SKU map.
 */
import type { Config } from '../config/index.js';

export function exampleOperations(skus: readonly string[], config: Config) {
  const sample = skus.length > 0 ? skus : ['SKU-000001'];
  const firstSource = Object.keys(config.sources)[0] ?? 'erp';
  return [
    {
      name: 'Availability with provenance',
      query: `# Available-to-promise for a page of SKUs, with where every figure comes from.
query Availability($skus: [ID!]!, $channel: String) {
  availability(skus: $skus, channel: $channel) {
    sku
    available
    onHand
    committed
    flags
    byLocation {
      location { id name }
      onHand
      committed
      safetyStock
      available
      counted
      flags
      provenance { source asOf stale fallback rule }
    }
  }
}`,
      variables: { skus: sample, channel: 'web' },
    },
    {
      name: 'Item with cost',
      query: `# One canonical SKU: its codes in every system, its cost and its availability.
query Item($sku: ID!) {
  inventoryItem(sku: $sku) {
    sku
    name
    aliases { system code }
    unitCost { amount currency source }
    availability { available flags byLocation { location { id } available provenance { source rule } } }
  }
}`,
      variables: { sku: sample[0] },
    },
    {
      name: 'Route an order',
      query: `# Which locations should ship this order, and why (the trace explains every location).
query Route($order: RouteOrderInput!) {
  routeOrder(order: $order) {
    complete
    method
    shipments { location { id } lines { sku quantity } distanceKm }
    unfulfilled { sku quantity reason detail }
    trace { location { id } used rank reasons detail figures { sku available allocated flags } }
  }
}`,
      variables: {
        order: {
          lines: sample.slice(0, 3).map((sku, i) => ({ sku, quantity: 5 * (i + 1) })),
          destination: { latitude: 41.88, longitude: -87.63 },
          strategy: 'FEWEST_SHIPMENTS',
        },
      },
    },
    {
      name: 'Reconcile systems',
      query: `# Every system's on-hand side by side per (sku, location): the authoritative figure, each other
# system's variance, the part movements (picked not invoiced, in transit) explain, and the rest.
query Reconcile($skus: [ID!]!, $tolerance: Int) {
  reconciliation(skus: $skus, tolerance: $tolerance) {
    summary { lines matched explained withinTolerance discrepancies absVariance absUnexplained gaps }
    lines {
      sku
      location { id }
      status
      authoritative
      quantity
      variance
      explained
      unexplained
      worstSource
      systems { source onHand asOf stale movements { kind quantity } variance status }
    }
    gaps { sku source reason detail }
  }
  reconciliationRuns(first: 3) { id status finishedAt lines discrepancies absUnexplained }
}`,
      variables: { skus: sample, tolerance: 0 },
    },
    {
      name: 'Browse the catalogue',
      query: `query Catalogue($after: String) {
  inventoryItems(first: 20, after: $after) {
    nodes { sku name availability { available flags } }
    pageInfo { hasNextPage endCursor }
  }
}`,
      variables: {},
    },
    {
      name: 'Open anomalies',
      query: `query Anomalies {
  anomalies(status: OPEN) { id kind sku location source detail occurrences firstSeen lastSeen }
}`,
      variables: {},
    },
    {
      name: 'Locations and sources',
      query: `query Setup {
  locations { id name codes { system code } priority channels sellable safetyStock }
  sources { name kind entities maxAgeSeconds stalePolicy }
}`,
      variables: {},
    },
    {
      name: 'Resolve a system code',
      query: `# Which canonical SKU does a system's own code mean? null: an orphan code.
query Resolve($system: String!, $code: String!) {
  resolveSku(system: $system, code: $code) { sku name aliases { system code } }
}`,
      variables: { system: firstSource, code: 'UNKNOWN-CODE' },
    },
  ];
}
