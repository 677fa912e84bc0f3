/**
 * Timestamps without a zone read as wall-clock time in a source's `timezone` (src/db/values.ts):
 * DST-correct on both sides of a change, values with an offset and epoch numbers untouched, UTC
 * by default; and the config refusing a zone Intl does not know, naming the key and the value.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { timestamp } from '../../src/db/values.js';
import { dateInName } from '../../src/sources/csv.js';

const iso = (v: unknown, zone?: string) => timestamp(v, zone).toISOString();

describe('timestamp in a zone', () => {
  it('reads a DATETIME as wall-clock time in the zone, summer and winter', () => {
    expect(iso('2026-07-01 12:00:00', 'Europe/Berlin')).toBe('2026-07-01T10:00:00.000Z');
    expect(iso('2026-01-15 12:00:00', 'Europe/Berlin')).toBe('2026-01-15T11:00:00.000Z');
    expect(iso('2026-01-15T12:00:00.250', 'Europe/Berlin')).toBe('2026-01-15T11:00:00.250Z');
    expect(iso('2026-07-01 12:00', 'Asia/Kathmandu')).toBe('2026-07-01T06:15:00.000Z');
    expect(iso('2026-07-01 12:00:00', 'America/New_York')).toBe('2026-07-01T16:00:00.000Z');
    // a date alone is midnight there
    expect(iso('2026-03-29', 'Europe/Berlin')).toBe('2026-03-28T23:00:00.000Z');
  });

  it('is right around daylight saving changes: the repeated hour is the earlier instant, the skipped one is read with the offset before', () => {
    expect(iso('2026-03-29 01:59:59', 'Europe/Berlin')).toBe('2026-03-29T00:59:59.000Z');
    expect(iso('2026-03-29 03:00:00', 'Europe/Berlin')).toBe('2026-03-29T01:00:00.000Z');
    expect(iso('2026-03-29 02:30:00', 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z');
    expect(iso('2026-10-25 01:59:59', 'Europe/Berlin')).toBe('2026-10-24T23:59:59.000Z');
    expect(iso('2026-10-25 02:30:00', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
    expect(iso('2026-10-25 03:00:00', 'Europe/Berlin')).toBe('2026-10-25T02:00:00.000Z');
    expect(iso('2026-11-01 01:30:00', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    expect(iso('2026-03-08 02:30:00', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
  });

  it('keeps explicit offsets and epoch numbers, and reads UTC by default', () => {
    expect(iso('2026-07-01T12:00:00+05:00', 'Europe/Berlin')).toBe('2026-07-01T07:00:00.000Z');
    expect(iso('2026-07-01T12:00:00Z', 'Europe/Berlin')).toBe('2026-07-01T12:00:00.000Z');
    expect(iso(1_782_907_200, 'Europe/Berlin')).toBe('2026-07-01T12:00:00.000Z');
    expect(iso('2026-07-01 12:00:00')).toBe('2026-07-01T12:00:00.000Z');
    expect(iso('2026-07-01 12:00:00', 'UTC')).toBe('2026-07-01T12:00:00.000Z');
    expect(() => timestamp('yesterday', 'Europe/Berlin')).toThrowError('not a timestamp: "yesterday"');
  });

  it('reads the date in a file name in the zone too', () => {
    expect(dateInName('inventory-2026-11-25.csv', 'Europe/Berlin')?.toISOString()).toBe('2026-11-24T23:00:00.000Z');
    expect(dateInName('stock_20260701T0630.csv', 'Europe/Berlin')?.toISOString()).toBe('2026-07-01T04:30:00.000Z');
    expect(dateInName('inventory-2026-11-25.csv')?.toISOString()).toBe('2026-11-25T00:00:00.000Z');
  });
});

describe('sources.<name>.timezone', () => {
  const config = (tz: string) => `
store: { client: better-sqlite3, connection: ":memory:" }
sources:
  erp:
    kind: sql
    client: better-sqlite3
    connection: ./erp.sqlite
    ${tz}
    stock: { table: t, columns: { sku: s, location: l, onHand: q } }
  tpl:
    kind: csv
    path: ./3pl/*.csv
    ${tz}
    stock: { columns: { sku: s, location: l, onHand: q } }
locations: [{ id: A, codes: { erp: A, tpl: A } }]
precedence: { quantity: [erp, tpl] }
`;

  it('takes an IANA name, and defaults to UTC', () => {
    const c = parseConfig(config('timezone: Europe/Berlin'), '/tmp/tz.yaml');
    expect(c.sources.erp?.timezone).toBe('Europe/Berlin');
    expect(c.sources.tpl?.timezone).toBe('Europe/Berlin');
    expect(parseConfig(config(''), '/tmp/tz.yaml').sources.erp?.timezone).toBe('UTC');
  });

  it('refuses a zone Intl does not know, naming the key and the value', () => {
    expect(() => parseConfig(config('timezone: Mars/Base'), '/tmp/tz.yaml')).toThrowError(
      /sources\.erp\.timezone: unknown time zone "Mars\/Base": an IANA name such as Europe\/Berlin[\s\S]*sources\.tpl\.timezone: unknown time zone "Mars\/Base"/,
    );
  });
});
