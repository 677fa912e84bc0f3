/**
 * Transport kinds: the config's `events.sinks.<name>.kind` mapped to the factory that builds
 * that kind of transport (./types.ts). A new kind is its schema in `eventSinkSchema`
 * (src/config/schema.ts), its module here, and one entry below; the `satisfies` fails to
 * compile while a kind the schema accepts has no factory. One contract suite
 * (test/events/transports.test.ts) runs over every kind.
 */
import type { EventSinkConfig } from '../../config/index.js';
import { createAmqpTransport } from './amqp.js';
import { createNatsTransport } from './nats.js';
import type { EventTransport, TransportContext, TransportFactory } from './types.js';
import { createWebhookTransport } from './webhook.js';

export { createAmqpTransport, createNatsTransport, createWebhookTransport };

export type TransportKind = EventSinkConfig['kind'];

export const transportFactories = {
  webhook: (config, ctx) => createWebhookTransport(config, ctx),
  amqp: (config, ctx) => createAmqpTransport(config, ctx),
  nats: (config, ctx) => createNatsTransport(config, ctx),
} satisfies { [K in TransportKind]: TransportFactory<K> };

/** The transport for one sink, by its kind. Throws only on a config it cannot use (a `whsec_` secret that is not base64). */
export function createTransport(config: EventSinkConfig, ctx: TransportContext): EventTransport {
  const factory = transportFactories[config.kind] as TransportFactory<TransportKind>;
  return factory(config, ctx);
}
