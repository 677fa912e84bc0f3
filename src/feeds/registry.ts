/**
 * Feed kinds: the config's `sync.feeds[].kind` mapped to the factory that builds that kind of
 * feed. A new kind is its schema in `feedSchema` (src/config/schema.ts), its module here, and
 * one entry below; the `satisfies` fails to compile while a kind the schema accepts has no factory.
 */
import type { FeedConfig } from '../config/index.js';
import { createPollFeed } from './poll.js';
import type { Feed, FeedContext } from './types.js';

export type FeedKind = FeedConfig['kind'];
export type FeedFactory<K extends FeedKind> = (config: Extract<FeedConfig, { kind: K }>, ctx: FeedContext) => Feed;

export const feedFactories = {
  poll: (config, ctx) => createPollFeed(config, ctx),
  amqp: () => {
    throw new Error('amqp: not built yet');
  },
  nats: () => {
    throw new Error('nats: not built yet');
  },
  webhook: () => {
    throw new Error('webhook: not built yet');
  },
} satisfies { [K in FeedKind]: FeedFactory<K> };

export function createFeed(config: FeedConfig, ctx: FeedContext): Feed {
  const factory = feedFactories[config.kind] as FeedFactory<FeedKind>;
  return factory(config, ctx);
}
