/**
 * Stock changes as feeds deliver them (a broker message, a webhook call), and the rules that
 * apply one to a mirrored record. Pure: no I/O, no clock but the `now` passed in.
 *
 * A change is about one (code, location) of one source, in that source's own codes:
 *
 *   { "id": "pick-4711", "op": "set",   "code": "W-100", "location": "EAST", "onHand": 12, "committed": 2, "eventTime": "2026-12-01T07:00:00Z" }
 *   { "id": "pick-4712", "op": "delta", "code": "W-100", "location": "EAST", "onHandDelta": -1, "eventTime": "2026-12-01T07:00:05Z" }
 *
 * - `set` states the level at `eventTime` (`committed` unchanged when absent); it is ignored when
 *   the record already holds something newer (its asOf is later): out of order is safe.
 * - `delta` adds to the level (`onHandDelta`, `committedDelta`, either or both); it is ignored when
 *   the record's level was stated at or after `eventTime` (a snapshot or a set that already
 *   includes it), so a daily file plus the picks since its asOf counts each pick once.
 * - `id` makes a change idempotent: the same id is applied once (the feed layer keeps the ids).
 */

export type ChangeOp = 'set' | 'delta';

export interface StockChange {
  id: string;
  op: ChangeOp;
  code: string;
  location: string;
  /** `set`: the level; `delta`: the change (0 when absent). */
  onHand: number;
  /** `set`: the level, or undefined to leave it; `delta`: the change (0 when absent). */
  committed: number | undefined;
  eventTime: Date;
}

/** The longest message id, code or location a change may carry (the store's column widths). */
export const MAX_ID_LENGTH = 191;
/** How far in the future an event time may be (clock skew between systems), in ms. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export type Parsed = { ok: true; change: StockChange } | { ok: false; reason: string; id: string | null };

/**
 * Reads one change from a decoded JSON value; every problem is named (the message goes to the
 * dead-letter queue with that reason). `now` bounds how far in the future `eventTime` may be.
 */
export function parseChange(value: unknown, now: Date): Parsed {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'a change must be a JSON object', id: null };
  const v = value as Record<string, unknown>;
  const id = typeof v.id === 'string' && v.id !== '' && v.id.length <= MAX_ID_LENGTH ? v.id : null;
  const problems: string[] = [];
  if (id === null) problems.push(`"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  const known = new Set(['id', 'op', 'code', 'location', 'onHand', 'committed', 'onHandDelta', 'committedDelta', 'eventTime']);
  const unknown = Object.keys(v).filter((k) => !known.has(k));
  if (unknown.length > 0) problems.push(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  const op = v.op;
  if (op !== 'set' && op !== 'delta') problems.push(`"op" must be "set" or "delta", not ${show(op)}`);
  for (const k of ['code', 'location'] as const) {
    const s = v[k];
    if (typeof s !== 'string' || s === '' || s.length > MAX_ID_LENGTH)
      problems.push(`"${k}" must be a non-empty string of at most ${MAX_ID_LENGTH} characters, not ${show(s)}`);
  }
  const whole = (k: string, required: boolean): number | undefined => {
    const n = v[k];
    if (n === undefined) {
      if (required) problems.push(`"${k}" is required`);
      return undefined;
    }
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      problems.push(`"${k}" must be a whole number, not ${show(n)}`);
      return undefined;
    }
    return n;
  };
  let onHand: number | undefined;
  let committed: number | undefined;
  if (op === 'set') {
    onHand = whole('onHand', true);
    committed = whole('committed', false);
    for (const k of ['onHandDelta', 'committedDelta']) if (v[k] !== undefined) problems.push(`"${k}" belongs to "op": "delta"`);
  } else if (op === 'delta') {
    onHand = whole('onHandDelta', false) ?? 0;
    committed = whole('committedDelta', false) ?? 0;
    if (v.onHandDelta === undefined && v.committedDelta === undefined) problems.push('a delta needs "onHandDelta" or "committedDelta"');
    for (const k of ['onHand', 'committed']) if (v[k] !== undefined) problems.push(`"${k}" belongs to "op": "set" (a delta carries "${k}Delta")`);
  }
  let eventTime: Date | undefined;
  if (typeof v.eventTime !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v.eventTime)) {
    problems.push(`"eventTime" must be an ISO 8601 date-time with its offset (2026-12-01T07:00:00Z), not ${show(v.eventTime)}`);
  } else {
    eventTime = new Date(v.eventTime);
    if (Number.isNaN(eventTime.getTime())) problems.push(`"eventTime" is not a real date: ${show(v.eventTime)}`);
    else if (eventTime.getTime() - now.getTime() > MAX_FUTURE_SKEW_MS) problems.push(`"eventTime" ${v.eventTime} is more than 5 minutes in the future`);
  }
  if (problems.length > 0 || id === null || eventTime === undefined || onHand === undefined) return { ok: false, reason: problems.join('; '), id };
  return { ok: true, change: { id, op: op as ChangeOp, code: v.code as string, location: v.location as string, onHand, committed, eventTime } };
}

function show(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One mirrored (code, location) level: the figures, when they were last true, and when they were last stated outright. */
export interface MirroredLevel {
  onHand: number;
  committed: number;
  /** The newest change or snapshot reflected. */
  asOf: number;
  /** When the level was last stated whole (a snapshot row or a set); deltas at or before it are already in it. */
  statedAt: number;
}

/**
 * The level after `c`, or null when `c` changes nothing (a set older than what is held, a delta
 * the stated level already includes). `current` is undefined for a (code, location) not held yet.
 */
export function applyChange(current: MirroredLevel | undefined, c: StockChange): MirroredLevel | null {
  const t = c.eventTime.getTime();
  if (c.op === 'set') {
    if (current !== undefined && t < current.asOf) return null;
    return { onHand: c.onHand, committed: c.committed ?? current?.committed ?? 0, asOf: t, statedAt: t };
  }
  if (current !== undefined && t <= current.statedAt) return null;
  const base = current ?? { onHand: 0, committed: 0, asOf: t, statedAt: Number.NEGATIVE_INFINITY };
  return { onHand: base.onHand + c.onHand, committed: base.committed + (c.committed ?? 0), asOf: Math.max(base.asOf, t), statedAt: base.statedAt };
}
