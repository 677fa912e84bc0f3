/**
 * OpenTelemetry traces (`telemetry.tracing`, docs/observability.md): one tracer per process,
 * turned on by the app that serves (src/server/app.ts) and read by every layer that makes spans:
 * the HTTP request and the GraphQL operation (src/server/tracing.ts), each source read
 * (src/sources/resilience.ts), each mirror feed batch (src/feeds/sink.ts, src/feeds/poll.ts) and
 * each event delivery (src/events/publisher.ts).
 *
 * Off (the default) nothing is registered and nothing is made: every caller checks
 * `tracing.enabled` (a property read) before building a span or its attributes, so the hot path
 * allocates nothing for tracing (bench/tracing-overhead.ts measures it).
 *
 * On: spans go through a BatchSpanProcessor to the OTLP/HTTP exporter (`endpoint`, `headers`),
 * sampled by `sampleRatio` unless the caller's `traceparent` decided already (parent-based). The
 * active span travels with the async work through an AsyncLocalStorage context manager: ours, a
 * few lines below, since @opentelemetry/context-async-hooks is not a dependency and
 * sdk-trace-base registers none for Node.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger.js';

export { SpanKind, SpanStatusCode, type Span };

/** `telemetry.tracing` (src/config/schema.ts). */
export interface TracingSettings {
  enabled: boolean;
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  sampleRatio: number;
}

/** Whether spans are made, and the tracer that makes them (undefined when off). Read, never written, outside this module. */
export const tracing: { enabled: boolean; tracer: Tracer | undefined } = { enabled: false, tracer: undefined };

/** The tracer of a running app: flush (tests, before reading an exporter) and shut down (graceful stop: what is queued is exported first). */
export interface TracingHandle {
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** `service.version` of the spans. */
  serviceVersion: string;
  /** Export failures (collector unreachable) are logged here at warn. */
  logger: Logger;
  /** Replaces the OTLP exporter (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

/**
 * Turns tracing on for this process when `settings.enabled`; undefined (and nothing registered)
 * otherwise. The last app started is the one whose spans are made; its `shutdown` turns tracing off again.
 */
export function startTracing(settings: TracingSettings, o: StartTracingOptions): TracingHandle | undefined {
  if (!settings.enabled) return undefined;
  const exporter = o.exporter ?? new OTLPTraceExporter({ url: settings.endpoint, headers: { ...settings.headers } });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: o.serviceVersion }),
    // a caller's sampling decision (its traceparent's flag) is followed; without one, sampleRatio of the traces are kept
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  registerContextManager(o.logger);
  const tracer = provider.getTracer('inventory-graph', o.serviceVersion);
  tracing.tracer = tracer;
  tracing.enabled = true;
  let stopped: Promise<void> | undefined;
  return {
    flush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        if (tracing.tracer === tracer) {
          tracing.enabled = false;
          tracing.tracer = undefined;
        }
        await provider.shutdown();
      })();
      return stopped;
    },
  };
}

/**
 * The @opentelemetry/api ContextManager on Node's AsyncLocalStorage: the active context follows
 * callbacks and promises from where they were made (what @opentelemetry/context-async-hooks'
 * AsyncLocalStorageContextManager does, without the package).
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...a: unknown[]) => unknown;
    const run = (...a: unknown[]) => this.storage.run(ctx, () => fn(...a));
    return run as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

let registered = false;

/** Once per process: the context manager, and OpenTelemetry's own warnings (a failed export) into our log. */
function registerContextManager(logger: Logger): void {
  if (registered) return;
  registered = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  const warn = (message: string, ...args: unknown[]) => logger.warn(`opentelemetry: ${message}`, args.length > 0 ? { detail: args.map(String) } : undefined);
  diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
}

const propagator = new W3CTraceContextPropagator();

/** A request's operation span, once its GraphQL operation started: source reads are its children (see `parentContext`). */
export interface OperationSlot {
  span: Span | undefined;
}

const OPERATION = createContextKey('inventory-graph operation span');

/** The context of an HTTP request's span with an empty slot for its operation span. */
export function withOperationSlot(ctx: Context): { ctx: Context; slot: OperationSlot } {
  const slot: OperationSlot = { span: undefined };
  return { ctx: ctx.setValue(OPERATION, slot), slot };
}

/** The slot of the request being served, if any. */
export function operationSlot(): OperationSlot | undefined {
  return context.active().getValue(OPERATION) as OperationSlot | undefined;
}

/**
 * Where a new span hangs: under the request's operation span once it started (Apollo runs the
 * resolvers in the async context of the HTTP request, not of a plugin hook, so the operation span
 * is found through the request's slot), else under the active span, else a new trace.
 */
export function parentContext(): Context {
  const active = context.active();
  const slot = active.getValue(OPERATION) as OperationSlot | undefined;
  return slot?.span === undefined ? active : trace.setSpan(active, slot.span);
}

/** A new span (tracing on only: callers check `tracing.enabled`), under `parentContext()` unless `parent` is given. */
export function startSpan(name: string, attributes: Attributes, kind: SpanKind = SpanKind.INTERNAL, parent: Context = parentContext()): Span {
  return (tracing.tracer as Tracer).startSpan(name, { kind, attributes }, parent);
}

/** Marks a span failed: error status with the message, and the exception as an event. */
export function failSpan(span: Span, e: unknown, message?: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? (e instanceof Error ? e.message : String(e)) });
  if (e instanceof Error) span.recordException(e);
}

/**
 * `fn` in a span of its own (made active for what `fn` starts), ended when `fn` settles; a
 * rejection sets its error status. When tracing is off `fn` runs as it is, with no span.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!tracing.enabled) return fn(undefined);
  const span = startSpan(name, attributes);
  try {
    return await context.with(trace.setSpan(context.active(), span), () => fn(span));
  } catch (e) {
    failSpan(span, e);
    throw e;
  } finally {
    span.end();
  }
}

/** `traceparent` (and `tracestate`) naming `span`, for a message or request sent on its behalf. */
export function traceHeaders(span: Span): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier;
}

/** The caller's trace context from `traceparent`/`tracestate` headers (the root context when absent or malformed). */
export function extractTraceContext(headers: Record<string, string | string[] | undefined>): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** `fn` with `ctx` active. */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}
