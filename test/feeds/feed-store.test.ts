/**
 * The feed tables of the store (applied changes and dead letters) on SQLite and MariaDB: an id is
 * recorded once, also when it comes twice in one batch or again later; replay gives the changes
 * oldest event first across pages; the dedupe window and the dead-letter bound forget the oldest;
 * a re-driven dead letter leaves the queue in the same transaction that records its change.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StockChange } from '../../src/domain/changes.js';
import { openStore, type Store } from '../../src/store/index.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';

const change = (id: string, t: number, over: Partial<StockChange> = {}): StockChange => ({
  id,
  op: 'delta',
  code: 'W-1',
  location: 'EAST',
  onHand: -1,
  committed: 0,
  eventTime: new Date(t),
  ...over,
});

const dead = (n: number) => ({ feed: 'amqp', messageId: `bad-${n}`, transportId: null, body: `{"n":${n}}`, reason: `reason ${n}` });

for (const backend of BACKENDS) {
  describe(`feed store on ${backend.name}`, () => {
    let t: TestDatabase;
    let store: Store;

    beforeEach(async () => {
      t = await backend.create();
      store = await openStore({ client: backend.client, connection: t.connection });
    });

    afterEach(async () => {
      await store?.close();
      await t?.cleanup();
    });

    it('records an id once, and says which ones it already had', async () => {
      expect(await store.feeds.record('tpl', 'amqp', [change('a', 1000), change('b', 2000)], [])).toEqual(new Set());
      expect(await store.feeds.record('tpl', 'amqp', [change('b', 2000), change('c', 3000)], [])).toEqual(new Set(['b']));
      // the same id in another source is another message
      expect(await store.feeds.record('wms', 'amqp', [change('a', 1000)], [])).toEqual(new Set());
      expect(await store.feeds.changeCounts()).toEqual(
        new Map([
          ['tpl', 3],
          ['wms', 1],
        ]),
      );
    });

    it('replays oldest event first, over several pages, as written', async () => {
      const changes = Array.from({ length: 25 }, (_, i) =>
        change(`m${i}`, 10_000 - (i % 5) * 1000, { op: i % 2 === 0 ? 'set' : 'delta', onHand: i, committed: i % 3 === 0 ? undefined : i }),
      );
      await store.feeds.record('tpl', 'nats', changes, []);
      const seen: StockChange[] = [];
      for await (const batch of store.feeds.replay('tpl', 0, 7)) seen.push(...batch);
      expect(seen.map((c) => c.id).sort()).toEqual(changes.map((c) => c.id).sort());
      const times = seen.map((c) => c.eventTime.getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
      const byId = new Map(seen.map((c) => [c.id, c]));
      for (const c of changes) expect(byId.get(c.id)).toEqual(c);
      const after: StockChange[] = [];
      for await (const batch of store.feeds.replay('tpl', 8000)) after.push(...batch);
      expect(after.every((c) => c.eventTime.getTime() > 8000)).toBe(true);
    });

    it('forgets ids received before the window, so they may apply again', async () => {
      await store.feeds.record('tpl', 'amqp', [change('a', 1000)], []);
      expect(await store.feeds.prune('tpl', Date.now() - 60_000)).toBe(0);
      expect(await store.feeds.prune('tpl', Date.now() + 1)).toBe(1);
      expect(await store.feeds.record('tpl', 'amqp', [change('a', 1000)], [])).toEqual(new Set());
    });

    it('keeps the newest dead letters past its bound, marks and re-drives them', async () => {
      await store.feeds.record('tpl', 'amqp', [], [dead(1), dead(2), dead(3), dead(4)]);
      expect(await store.feeds.deadLetters.trim('tpl', 10)).toBe(0);
      expect(await store.feeds.deadLetters.trim('tpl', 2)).toBe(2);
      const left = await store.feeds.deadLetters.list({ source: 'tpl' });
      expect(left.map((l) => l.messageId)).toEqual(['bad-3', 'bad-4']);
      expect(await store.feeds.deadLetters.requestReplay({ ids: [left[0]!.id] })).toBe(1);
      const marked = await store.feeds.deadLetters.requested('tpl', 10);
      expect(marked.map((l) => l.messageId)).toEqual(['bad-3']);
      // applied now: its change is recorded and the letter leaves the queue, in one transaction
      await store.feeds.record('tpl', 'amqp', [change('bad-3', 5000)], [], { resolved: [left[0]!.id] });
      expect((await store.feeds.deadLetters.list({ source: 'tpl' })).map((l) => l.messageId)).toEqual(['bad-4']);
      await store.feeds.deadLetters.failedAgain(left[1]!.id, 'still bad');
      expect(await store.feeds.deadLetters.list({ source: 'tpl' })).toMatchObject([
        { messageId: 'bad-4', attempts: 2, reason: 'still bad', replayRequestedAt: null },
      ]);
      expect(await store.feeds.deadLetters.counts()).toEqual(new Map([['tpl', 1]]));
    });
  });
}
