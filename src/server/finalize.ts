/**
 * The response finalizer: what the server adds to every GraphQL answer, whoever made it
 * (Apollo, through `finalizerPlugin`, or the trusted-document fast path in
 * src/server/fast-path.ts), read from the request's diagnostics (src/server/diagnostics.ts):
 * - one SOURCE_UNAVAILABLE error per source that failed during the request, and one
 *   INVALID_SOURCE_DATA error per source that sent records that could not be used, after the
 *   answer's own errors (HTTP 200 with the data beside them, never a null response);
 * - `x-source-statements: erp/stock=1, wms/stock=1`: the statements sent per source and entity
 *   (benchmarks and tests read it; an operator can too);
 * - every error that reaches the client masked is logged with the request id;
 * - the operation and its answer's error codes, noted in the diagnostics for the request log
 *   and the metrics.
 *
 * And how an error looks to the client (`maskInternalError`, Apollo's `formatError`): any error
 * that is not ours is masked: no SQL, stack or path.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
import { ErrorCode, InvalidSourceDataError, SourceUnavailableError } from '../errors.js';
import { errorFields, type Logger } from '../logger.js';
import type { GatewayContext } from './context.js';

/** An answer as made, before the server's additions. */
export interface Answer {
  /** The operation answered; undefined when none was resolved (a parse or validation error, an unknown persisted query). */
  operation: OperationDefinitionNode | undefined;
  /** The errors as raised, before formatting: those that reach the client masked are logged. */
  errors: readonly GraphQLError[] | undefined;
  /** The same errors as formatted for the client. */
  formatted: readonly GraphQLFormattedError[] | undefined;
}

/** What the server adds to an answer. */
export interface ResponseAdditions {
  /** The answer's errors, then the source errors; undefined when there are none. */
  errors: readonly GraphQLFormattedError[] | undefined;
  /** Response headers to set. */
  headers: ReadonlyArray<readonly [string, string]>;
}

/** Turns (the request's context, an answer) into the answer's additions; notes the operation in the diagnostics and logs masked errors. */
export type ResponseFinalizer = (context: GatewayContext, answer: Answer) => ResponseAdditions;

export function createResponseFinalizer(logger: Logger): ResponseFinalizer {
  return (context, answer) => {
    const d = context.diagnostics;
    if (answer.errors !== undefined) logInternalErrors(logger, context, answer.errors);
    const extra = sourceErrorsOf(context);
    const errors = extra.length === 0 ? answer.formatted : [...(answer.formatted ?? []), ...extra];
    d.operation = {
      resolved: answer.operation !== undefined,
      name: answer.operation?.name?.value ?? null,
      type: answer.operation?.operation ?? null,
      errorCodes: errorCodesOf(errors),
      errorCounts: errorCountsOf(errors),
    };
    return { errors: errors !== undefined && errors.length > 0 ? errors : undefined, headers: [['x-source-statements', statementsHeaderOf(context)]] };
  };
}

/** The finalizer as Apollo's plugin: applied to every answer Apollo sends, after execution (or its refusal). */
export function finalizerPlugin(finalize: ResponseFinalizer): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      // an operation counts as resolved once the plugins were told of it (a GET of a mutation is refused before)
      let resolved = false;
      return {
        async didResolveOperation() {
          resolved = true;
        },
        async willSendResponse({ contextValue, operation, errors, response }) {
          const single = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const added = finalize(contextValue, { operation: resolved ? operation : undefined, errors, formatted: single?.errors });
          if (single !== undefined && added.errors !== single.errors) single.errors = added.errors;
          for (const [k, v] of added.headers) response.http.headers.set(k, v);
        },
      };
    },
  };
}

/**
 * One SOURCE_UNAVAILABLE error per source that failed during the request, and one
 * INVALID_SOURCE_DATA error per source that sent records that could not be used.
 */
function sourceErrorsOf(context: GatewayContext): GraphQLFormattedError[] {
  const { failures, invalidData } = context.diagnostics;
  if (failures.size === 0 && invalidData.size === 0) return [];
  return [
    ...[...failures.values()].map((f) => new SourceUnavailableError(f.source, f.reason, f.entity).toJSON()),
    ...[...invalidData].map(([source, records]) => new InvalidSourceDataError(source, records).toJSON()),
  ];
}

/** `erp/stock=1, wms/stock=1`, or `none`. */
function statementsHeaderOf(context: GatewayContext): string {
  const counts = [...context.diagnostics.statements].map(([k, n]) => `${k}=${n}`).join(', ');
  return counts === '' ? 'none' : counts;
}

/** The distinct error codes of an answer's errors. */
export function errorCodesOf(errors: readonly { extensions?: Record<string, unknown> }[] | undefined): string[] {
  const codes = new Set<string>();
  for (const e of errors ?? []) {
    const code = e.extensions?.code;
    if (typeof code === 'string') codes.add(code);
  }
  return [...codes];
}

/** Every error of an answer counted by its code; an error without one (none should reach a client) counts as INTERNAL_SERVER_ERROR. */
export function errorCountsOf(errors: readonly { extensions?: Record<string, unknown> }[] | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of errors ?? []) {
    const code = typeof e.extensions?.code === 'string' ? e.extensions.code : ErrorCode.INTERNAL_SERVER_ERROR;
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return counts;
}

/**
 * An error Apollo raises itself about the request with a 4xx status and no code (a persisted
 * query whose hash does not match its text, an unsupported persisted-query version): the
 * client's mistake, answered as BAD_REQUEST and never logged as an internal fault.
 */
function isUncodedClientError(e: unknown): boolean {
  if (!(e instanceof GraphQLError) || e.extensions.code !== undefined) return false;
  const status = (e.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Logs, with the request id, every error that will reach the client masked. */
function logInternalErrors(logger: Logger, context: GatewayContext, errors: readonly GraphQLError[]): void {
  for (const e of errors) {
    if ((e.extensions.code === undefined || e.extensions.code === ErrorCode.INTERNAL_SERVER_ERROR) && !isUncodedClientError(e)) {
      logger.error('internal error', { requestId: context.requestId, path: e.path, ...errorFields(unwrapResolverError(e)) });
    }
  }
}

/** Apollo's `formatError`: any error that is not ours (no code of its own) is masked, but for Apollo's own 4xx refusals of a request. */
export function maskInternalError(formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError {
  // ours and Apollo's own (parse, validation, bad variables) carry a code; anything else is an internal fault
  if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
  if (isUncodedClientError(error)) return { message: formatted.message, extensions: { ...formatted.extensions, code: ErrorCode.BAD_REQUEST } };
  return {
    message: "Internal server error (the server log has the details under this response's x-request-id).",
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    ...(formatted.path ? { path: formatted.path } : {}),
  };
}
