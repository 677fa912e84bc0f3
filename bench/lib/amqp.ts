/**
 * RabbitMQ for the benches: a writer that sends feed changes (src/domain/changes.ts, a JSON array
 * per message) to a durable queue at a steady rate, and a consumer of a topic exchange (what a
 * sink of events publishes to). Both stamp their own clock (`performance.now()`), so a bench can
 * time a change from its hand-over to the broker to whatever it causes.
 */
import amqp from 'amqplib';

/** One feed change as the message feeds carry it (src/domain/changes.ts). */
export interface FeedChange {
  id: string;
  op: 'set';
  code: string;
  location: string;
  onHand: number;
  eventTime: string;
}

export interface PacedWriteOptions {
  url: string;
  /** The durable queue the gateway's amqp feed consumes (declared here when missing). */
  queue: string;
  /** Changes a second, and per message. */
  rate: number;
  batch: number;
  /** How long to write, in ms. */
  durationMs: number;
  /** Messages awaiting their confirm at most (the writer falls behind past it). Default 8. */
  inFlight?: number;
  /** The next change; `t0` is when its message is handed to the broker (performance.now()). */
  next: () => Omit<FeedChange, 'eventTime'>;
  /** Told of each message once handed over (before the confirm): its changes and t0. */
  sent?: (changes: readonly FeedChange[], t0: number) => void;
}

export interface PacedWriteResult {
  sent: number;
  errors: number;
  firstError?: string;
  /** When writing started and stopped (performance.now()). */
  startedAt: number;
  stoppedAt: number;
}

/** Sends `rate` changes a second for `durationMs` on a confirm channel, `batch` per persistent message, and waits for the last confirms. */
export async function pacedWrite(o: PacedWriteOptions): Promise<PacedWriteResult> {
  const conn = await amqp.connect(o.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(o.queue, { durable: true });
  const limit = o.inFlight ?? 8;
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  let n = 0;
  const startedAt = performance.now();
  const stopAt = startedAt + o.durationMs;
  try {
    while (performance.now() < stopAt) {
      let due = Math.floor(((performance.now() - startedAt) / 1000) * o.rate) - sent;
      while (due > 0 && inFlight < limit) {
        const k = Math.min(o.batch, due);
        const eventTime = new Date().toISOString();
        const changes = Array.from({ length: k }, (): FeedChange => ({ ...o.next(), eventTime }));
        due -= k;
        sent += k;
        inFlight++;
        const t0 = performance.now();
        ch.sendToQueue(o.queue, Buffer.from(JSON.stringify(changes)), {
          persistent: true,
          contentType: 'application/json',
          messageId: `${changes[0]?.id ?? 'b'}+${k}-${n++}`,
        });
        o.sent?.(changes, t0);
        void ch.waitForConfirms().then(
          () => inFlight--,
          (e: unknown) => {
            inFlight--;
            errors++;
            firstError ??= String(e).slice(0, 300);
          },
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const stoppedAt = performance.now();
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    return { sent, errors, ...(firstError !== undefined ? { firstError } : {}), startedAt, stoppedAt };
  } finally {
    await ch.close().catch(() => undefined);
    await conn.close().catch(() => undefined);
  }
}

export interface ExchangeConsumer {
  /** Messages received so far. */
  received(): number;
  /** Stops consuming; the exclusive queue goes with the connection; `deleteExchange` deletes the exchange too. */
  close(deleteExchange?: boolean): Promise<void>;
}

/**
 * Consumes everything published to the durable topic exchange `exchange` (declared when missing,
 * as an amqp events sink declares it) through an exclusive queue bound with `#`, without acks;
 * `onMessage` gets each body and the moment it arrived (performance.now()).
 */
export async function consumeExchange(url: string, exchange: string, onMessage: (body: Buffer, at: number) => void): Promise<ExchangeConsumer> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true });
  const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
  await ch.bindQueue(q.queue, exchange, '#');
  let n = 0;
  await ch.consume(
    q.queue,
    (msg) => {
      if (msg === null) return;
      n++;
      onMessage(msg.content, performance.now());
    },
    { noAck: true },
  );
  return {
    received: () => n,
    async close(deleteExchange = false) {
      if (deleteExchange) await ch.deleteExchange(exchange).catch(() => undefined);
      await ch.close().catch(() => undefined);
      await conn.close().catch(() => undefined);
    },
  };
}

/** Messages ready in `queue` (null when it cannot be looked at). */
export async function queueDepth(url: string, queue: string): Promise<number | null> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(queue).catch(() => null);
    await ch.close().catch(() => undefined);
    return q === null ? null : q.messageCount;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Deletes queues (those missing are skipped). */
export async function deleteQueues(url: string, queues: readonly string[]): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    for (const queue of queues) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(queue).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}
