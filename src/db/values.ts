/**
 * Reading values the way every engine returns them: SQLite gives text or epoch numbers,
 * mysql2 (configured in knex.ts) gives DATETIME as 'YYYY-MM-DD HH:MM:SS' strings. All of them
 * become a Date here.
 *
 * A timestamp without a zone (a MySQL DATETIME, SQLite text, a file's asOf) is wall-clock time
 * in its source's `timezone` (an IANA name, UTC by default): `timestamp(v, 'Europe/Berlin')`.
 * Offsets come from Intl, so daylight saving time is right on both sides of a change; a wall
 * time that happens twice (clocks going back) is the earlier instant, one that never happens
 * (clocks going forward) is read with the offset before the change, as Temporal's `compatible`
 * does. A value with an explicit offset (`Z`, `+02:00`) and epoch numbers keep theirs.
 */

/** ISO strings, 'YYYY-MM-DD HH:MM:SS' (wall clock in `zone`, default UTC), dates, Dates and epoch seconds or milliseconds. */
export function timestamp(v: unknown, zone = 'UTC'): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number' || typeof v === 'bigint') {
    const n = Number(v);
    return new Date(n < 1e11 ? n * 1000 : n);
  }
  const s = String(v).trim();
  if (/^\d+$/.test(s)) return timestamp(Number(s));
  const local = LOCAL.exec(s);
  if (local !== null && !isUtc(zone)) {
    const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = ''] = local;
    // the fields as `new Date` reads them in UTC below (an out-of-range day rolls over the same way)
    const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Math.round(Number(`0.${frac || '0'}`) * 1000));
    if (!Number.isNaN(wall)) return new Date(wallClockToUtc(wall, zone));
  }
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : local !== null ? `${s.replace(' ', 'T')}Z` : s);
  if (Number.isNaN(d.getTime())) throw new Error(`not a timestamp: ${JSON.stringify(v)}`);
  return d;
}

/** A date, or a date and time without an offset. */
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$/;

const isUtc = (zone: string) => zone === 'UTC' || zone === 'Etc/UTC';

/** Whether `zone` is a time zone Intl knows (an IANA name such as `Europe/Berlin`, or `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The instant (epoch ms) at which clocks in `zone` show `wall` (the wall-clock fields as if UTC:
 * `Date.UTC(y, m, d, h, mi, s)`). Offsets a day either side are tried, which covers every zone's
 * changes (never two within two days).
 */
export function wallClockToUtc(wall: number, zone: string): number {
  if (isUtc(zone)) return wall;
  const before = offsetAt(wall - DAY, zone);
  const after = offsetAt(wall + DAY, zone);
  const early = wall - before;
  if (before === after) return early;
  const late = wall - after;
  const earlyOk = early + offsetAt(early, zone) === wall;
  const lateOk = late + offsetAt(late, zone) === wall;
  if (earlyOk && lateOk) return Math.min(early, late);
  if (earlyOk) return early;
  if (lateOk) return late;
  // in the gap when clocks go forward: read with the offset before the change (a later wall time)
  return early;
}

const DAY = 86_400_000;
/** Offsets change on quarter hours of UTC in every zone in use: one lookup per zone per quarter hour. */
const SLOT = 900_000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, Map<number, number>>();

/** `zone`'s offset from UTC at the instant `t` (wall clock minus UTC), in ms. */
function offsetAt(t: number, zone: string): number {
  let cache = offsets.get(zone);
  if (cache === undefined) offsets.set(zone, (cache = new Map()));
  const slot = Math.floor(t / SLOT);
  const known = cache.get(slot);
  if (known !== undefined) return known;
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const at = slot * SLOT;
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(at))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const y = p.year as number;
  const wall = Date.UTC(y, (p.month as number) - 1, p.day as number, p.hour as number, p.minute as number, p.second as number);
  // Date.UTC maps years 0-99 to 1900-1999
  const offset = (y < 100 ? new Date(wall).setUTCFullYear(y) : wall) - at;
  if (cache.size >= 100_000) cache.clear();
  cache.set(slot, offset);
  return offset;
}
