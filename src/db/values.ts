/**
 * Reading values the way every engine returns them: SQLite gives text or epoch numbers,
 * mysql2 (configured in knex.ts) gives UTC strings. All of them become a Date here.
 */

/** ISO strings, 'YYYY-MM-DD HH:MM:SS' (read as UTC), dates, Dates and epoch seconds or milliseconds. */
export function timestamp(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number' || typeof v === 'bigint') {
    const n = Number(v);
    return new Date(n < 1e11 ? n * 1000 : n);
  }
  const s = String(v).trim();
  if (/^\d+$/.test(s)) return timestamp(Number(s));
  const local = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s);
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : local ? `${s.replace(' ', 'T')}Z` : s);
  if (Number.isNaN(d.getTime())) throw new Error(`not a timestamp: ${JSON.stringify(v)}`);
  return d;
}
