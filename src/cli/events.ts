/**
 * `inventory-graph events list|replay|tail` (docs/events.md): the outbox in the store
 * (src/store/event-store.ts) seen from a terminal. `list` shows events or dead letters; `replay`
 * makes dead letters pending again, and a running gateway sends them within a second (no
 * connection to the gateway needed); `tail` prints events as they are published, listening where
 * consumers listen (a RabbitMQ or NATS sink), or reading the outbox.
 */
import { connect as amqpConnect } from 'amqplib';
import { connect as natsConnect, DeliverPolicy, type JsMsg } from 'nats';
import { randomBytes } from 'node:crypto';
import { configFile, loadConfig, type Config, type EventSinkConfig } from '../config/index.js';
import { eventBody, isTypePattern, EVENT_TYPES, type EventBody, type StoredEvent } from '../domain/events.js';
import { sinkConfigs } from '../events/events.js';
import { openStore } from '../store/index.js';
import { UsageError, type ParsedArgs } from './args.js';
import { count, printable } from './feeds.js';

function types(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = String(v)
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const bad = list.find((t) => !isTypePattern(t));
  if (bad !== undefined || list.length === 0)
    throw new UsageError(`--type ${JSON.stringify(bad ?? String(v))} is not an event type (${EVENT_TYPES.join(', ')}) nor a family such as anomaly.*`);
  return list;
}

function typeMatches(list: readonly string[] | undefined, type: string): boolean {
  return list === undefined || list.some((t) => t === type || (t.endsWith('.*') && type.startsWith(t.slice(0, -1))));
}

function configured(values: ParsedArgs['values']): Config {
  return loadConfig(configFile(values.config as string | undefined, process.env));
}

function sinkNamed(config: Config, name: string): EventSinkConfig {
  const sinks = sinkConfigs(config);
  const found = sinks.find(([n]) => n === name);
  if (found === undefined) throw new UsageError(`--sink "${name}" is not a configured sink (configured: ${sinks.map(([n]) => n).join(', ') || 'none'})`);
  return found[1];
}

/** One line for a terminal: when, what, about what, and the gist. */
export function describeEvent(b: EventBody): string {
  const d = b.data;
  const about = [b.sku, b.channel].filter((x) => x !== null).join(' ');
  let gist = '';
  if (b.type === 'availability.changed') {
    const prev = (d.previous as { available?: number } | null)?.available;
    const cur = (d.current as { available?: number } | undefined)?.available;
    gist = `${(d.crossing as string | null) ?? 'changed'} ${prev ?? '?'} → ${cur ?? '?'}`;
  } else if (b.type.startsWith('anomaly.')) {
    const a = d.anomaly as { id?: string; kind?: string; location?: string | null; detail?: string };
    gist = `#${a.id ?? '?'} ${a.kind ?? ''}${a.location ? ` at ${a.location}` : ''}: ${a.detail ?? ''}`;
  } else if (b.type.startsWith('reservation.')) {
    const r = d.reservation as { id?: string; lines?: unknown[]; reference?: string | null };
    gist = `${r.id ?? '?'} ${r.lines?.length ?? 0} line(s)${r.reference ? ` ref ${r.reference}` : ''}`;
  } else if (b.type.startsWith('source.')) {
    gist = `${String(d.source)} (was ${String(d.previous ?? 'unknown')})${d.lastError ? `: ${String(d.lastError)}` : ''}`;
  }
  return printable(`${b.occurredAt} ${b.type}${about === '' ? '' : ` ${about}`} ${gist}`.trimEnd(), 400);
}

function print(b: EventBody, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(b)}\n` : `${describeEvent(b)}  [${b.id}]\n`);
}

export async function eventsListCommand({ values }: ParsedArgs): Promise<number> {
  const limit = count(values.limit, '--limit', 10_000) ?? 50;
  const before = count(values.before, '--before', Number.MAX_SAFE_INTEGER);
  const wanted = types(values.type);
  const sku = values.sku as string | undefined;
  if (values.sink !== undefined && values.dead !== true) throw new UsageError('--sink goes with --dead');
  const config = configured(values);
  const sink = values.sink as string | undefined;
  if (sink !== undefined) sinkNamed(config, sink);
  const store = await openStore(config.store);
  try {
    if (values.dead === true) {
      const letters = (await store.events.deadLetters({ sink, limit, afterSeq: before })).filter(
        (l) => typeMatches(wanted, l.event.type) && (sku === undefined || l.event.sku === sku),
      );
      if (letters.length === 0 && values.json !== true) process.stdout.write('no dead letters\n');
      for (const l of letters) {
        if (values.json === true)
          process.stdout.write(
            `${JSON.stringify({ ...eventBody(l.event), sink: l.sink, attempts: l.attempts, lastError: l.lastError, failedAt: l.failedAt })}\n`,
          );
        else
          process.stdout.write(
            `#${l.event.seq} ${l.sink}: ${describeEvent(eventBody(l.event))}\n  id ${l.event.id}, ${l.attempts} attempts, last ${l.failedAt?.toISOString() ?? '?'}: ${printable(l.lastError ?? '', 1024)}\n`,
          );
      }
      if (letters.length === limit && values.json !== true) process.stdout.write(`(more with --before ${letters.at(-1)?.event.seq})\n`);
      return 0;
    }
    const events = await store.events.list({ limit, beforeSeq: before, types: wanted, sku });
    if (events.length === 0 && values.json !== true) process.stdout.write('no events\n');
    for (const e of events) {
      if (values.json === true) print(eventBody(e), true);
      else process.stdout.write(`#${e.seq} ${describeEvent(eventBody(e))}  [${e.id}]\n`);
    }
    if (events.length === limit && values.json !== true) process.stdout.write(`(more with --before ${events.at(-1)?.seq})\n`);
    return 0;
  } finally {
    await store.close();
  }
}

export async function eventsReplayCommand({ values }: ParsedArgs): Promise<number> {
  const sink = values.sink as string | undefined;
  const ids =
    values.id === undefined
      ? undefined
      : String(values.id)
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  if (values.all !== true && sink === undefined && ids === undefined) throw new UsageError('replay needs --all, --sink S or --id ID');
  if (ids !== undefined && ids.length === 0) throw new UsageError('--id needs at least one event id');
  const config = configured(values);
  if (sink !== undefined) sinkNamed(config, sink);
  const store = await openStore(config.store);
  try {
    const n = await store.events.replay({ sink, ids });
    process.stdout.write(
      `${n} dead letter${n === 1 ? '' : 's'} pending again; a running gateway sends them within a second (\`inventory-graph events list --dead\` shows any that fail again)\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** Resolves on Ctrl-C / SIGTERM, or when `done` is called. */
function untilStopped(): { stopped: Promise<void>; done: () => void } {
  let done!: () => void;
  const stopped = new Promise<void>((r) => (done = r));
  process.once('SIGINT', done);
  process.once('SIGTERM', done);
  return { stopped, done };
}

export async function eventsTailCommand({ values }: ParsedArgs): Promise<number> {
  const wanted = types(values.type);
  const sku = values.sku as string | undefined;
  const limit = count(values.limit, '--limit', Number.MAX_SAFE_INTEGER);
  const json = values.json === true;
  if (values.outbox === true && values.sink !== undefined) throw new UsageError('give --sink S or --outbox, not both');
  const config = configured(values);
  let seen = 0;
  const { stopped, done } = untilStopped();
  /** Prints `b` when it passes the filters; stops after `--limit`. */
  const take = (b: EventBody) => {
    if (!typeMatches(wanted, b.type) || (sku !== undefined && b.sku !== sku)) return;
    print(b, json);
    if (limit !== undefined && ++seen >= limit) done();
  };

  const brokers = sinkConfigs(config).filter(([, s]) => s.kind === 'amqp' || s.kind === 'nats');
  const chosen =
    values.outbox === true ? undefined : values.sink !== undefined ? ([values.sink as string, sinkNamed(config, values.sink as string)] as const) : brokers[0];
  if (chosen !== undefined && chosen[1].kind === 'webhook')
    throw new UsageError(`--sink "${chosen[0]}" is a webhook; tail follows amqp or nats sinks, or --outbox`);

  if (chosen === undefined) {
    // the outbox: everything written from now on
    const store = await openStore(config.store);
    try {
      let after = await store.events.lastSeq();
      process.stderr.write(`following the outbox of ${config.store.client === 'mysql2' ? 'the MySQL store' : config.store.connection} (Ctrl-C stops)\n`);
      let stop = false;
      void stopped.then(() => (stop = true));
      while (!stop) {
        const got: StoredEvent[] = await store.events.list({ limit: 500, afterSeq: after });
        for (const e of got) {
          if (stop) break;
          take(eventBody(e));
          after = e.seq;
        }
        if (got.length < 500) await Promise.race([stopped, new Promise((r) => setTimeout(r, 250))]);
      }
      return 0;
    } finally {
      await store.close();
    }
  }

  const [name, sink] = chosen;
  if (sink.kind === 'amqp') {
    let conn;
    try {
      conn = await amqpConnect(sink.url, { timeout: 10_000 });
    } catch (e) {
      process.stderr.write(`inventory-graph events tail: could not reach the broker of sink "${name}": ${(e as Error).message}\n`);
      return 1;
    }
    conn.on('error', () => undefined);
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange(sink.exchange, 'topic', { durable: true });
      const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.bindQueue(q.queue, sink.exchange, '#');
      process.stderr.write(`following sink "${name}": exchange ${sink.exchange} on RabbitMQ (Ctrl-C stops)\n`);
      await ch.consume(
        q.queue,
        (m) => {
          if (m === null) return done();
          try {
            take(JSON.parse(m.content.toString('utf8')) as EventBody);
          } catch {
            process.stderr.write(`(a message that is not an event: ${printable(m.content.toString('utf8'))})\n`);
          }
        },
        { noAck: true },
      );
      await stopped;
      return 0;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  if (sink.kind !== 'nats') throw new UsageError(`--sink "${name}" is a webhook; tail follows amqp or nats sinks, or --outbox`);
  let nc;
  try {
    nc = await natsConnect({ servers: sink.servers, timeout: 10_000, maxReconnectAttempts: 0 });
  } catch (e) {
    process.stderr.write(`inventory-graph events tail: could not reach NATS for sink "${name}": ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const js = nc.jetstream();
    const consumer = await js.consumers.get(sink.stream, {
      filterSubjects: [`${sink.subjectPrefix}.>`],
      deliver_policy: DeliverPolicy.New,
      name_prefix: `tail_${randomBytes(4).toString('hex')}`,
    });
    process.stderr.write(`following sink "${name}": stream ${sink.stream}, ${sink.subjectPrefix}.> on NATS (Ctrl-C stops)\n`);
    const messages = await consumer.consume();
    void stopped.then(() => messages.stop());
    for await (const m of messages as AsyncIterable<JsMsg>) {
      try {
        take(JSON.parse(new TextDecoder().decode(m.data)) as EventBody);
      } catch {
        process.stderr.write('(a message that is not an event)\n');
      }
    }
    return 0;
  } finally {
    await nc.close().catch(() => undefined);
  }
}
