/**
 * Every error a client can see carries one of these codes in `extensions.code`. Anything
 * thrown that is not a GatewayError is masked as INTERNAL_SERVER_ERROR by the server, so
 * SQL, stack traces and file paths never reach a response.
 */
import { GraphQLError } from 'graphql';

/**
 * Apollo's codes (`ApolloServerErrorCode`, as Apollo and its executor set them; a unit test keeps
 * the list complete), then ours.
 */
export enum ErrorCode {
  // Apollo's
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
  GRAPHQL_PARSE_FAILED = 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED',
  PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED = 'PERSISTED_QUERY_NOT_SUPPORTED',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  OPERATION_RESOLUTION_FAILURE = 'OPERATION_RESOLUTION_FAILURE',
  BAD_REQUEST = 'BAD_REQUEST',
  // ours
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  LIMIT_EXCEEDED = 'LIMIT_EXCEEDED',
  RATE_LIMITED = 'RATE_LIMITED',
  SOURCE_UNAVAILABLE = 'SOURCE_UNAVAILABLE',
  INVALID_SOURCE_DATA = 'INVALID_SOURCE_DATA',
  STORE_BUSY = 'STORE_BUSY',
  /** The idempotency key was used before with a different request (HTTP 422); nothing was held. */
  IDEMPOTENCY_CONFLICT = 'IDEMPOTENCY_CONFLICT',
  /** No reservation has this id. */
  RESERVATION_NOT_FOUND = 'RESERVATION_NOT_FOUND',
  /** The reservation's status does not allow the step (releasing twice, confirming an expired hold). */
  INVALID_RESERVATION_STATE = 'INVALID_RESERVATION_STATE',
  /** Not a GraphQL error: the HTTP layer's answer to a method other than GET, POST (src/server/http.ts). */
  METHOD_NOT_ALLOWED = 'METHOD_NOT_ALLOWED',
  /** Not a GraphQL error: the HTTP layer's answer to a body over the limit (src/server/http.ts). */
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
}

/**
 * A client-visible error with its code. `extensions` come first and `code` is added last, unless
 * `extensions` already has a `code`, which then keeps its place: the refusals before execution
 * put it first, as Apollo's own errors do, and their answers stay byte for byte what they were.
 * An `http` extension (status, headers) sets the HTTP response and is not sent.
 */
export class GatewayError extends GraphQLError {
  constructor(message: string, code: ErrorCode, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
    this.name = 'GatewayError';
  }
}

/** `{ code, ...rest }`, with an HTTP status (and headers) last when given. */
function codeFirst(code: ErrorCode, rest: Record<string, unknown>, status?: number, headers?: Map<string, string>): Record<string, unknown> {
  if (status === undefined) return { code, ...rest };
  return { code, ...rest, http: headers === undefined ? { status } : { status, headers } };
}

/** The caller asked for something malformed; the message names the bad value. */
export class BadUserInputError extends GatewayError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, ErrorCode.BAD_USER_INPUT, extensions);
    this.name = 'BadUserInputError';
  }

  /** The operation asks about more SKUs than the role may (HTTP 400, before anything executes). */
  static tooManySkus(message: string, limit: { max: number; actual: number }): BadUserInputError {
    return new BadUserInputError(message, codeFirst(ErrorCode.BAD_USER_INPUT, { limit: 'maxSkus', ...limit }, 400));
  }

  /**
   * A variable the executor refused, as Apollo answers graphql-js's: BAD_USER_INPUT, HTTP 400,
   * the same message and locations.
   */
  static variable(e: GraphQLError): BadUserInputError {
    const err = new BadUserInputError(e.message, { ...e.extensions, code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } });
    if (e.locations !== undefined) (err as { locations?: GraphQLError['locations'] }).locations = e.locations;
    return err;
  }
}

/** A request the gateway does not serve at all (a subscription): HTTP 400. */
export class BadRequestError extends GatewayError {
  constructor(message: string) {
    super(message, ErrorCode.BAD_REQUEST, codeFirst(ErrorCode.BAD_REQUEST, {}, 400));
    this.name = 'BadRequestError';
  }
}

/** The operation to run could not be picked (an unknown name, or several and none named): HTTP 400, no data. */
export class OperationResolutionError extends GatewayError {
  constructor(message: string) {
    super(message, ErrorCode.OPERATION_RESOLUTION_FAILURE, codeFirst(ErrorCode.OPERATION_RESOLUTION_FAILURE, {}, 400));
    this.name = 'OperationResolutionError';
  }
}

/**
 * The key's role may not do this. With `status` (introspection, refused before execution) it
 * sets the HTTP status; without, it is a field's error beside the other data (`@auth`).
 */
export class ForbiddenError extends GatewayError {
  constructor(message: string, status?: 403) {
    super(message, ErrorCode.FORBIDDEN, codeFirst(ErrorCode.FORBIDDEN, {}, status));
    this.name = 'ForbiddenError';
  }
}

/** An operation limit of the role (src/server/limits.ts) was exceeded: `limit` names it. HTTP 400. */
export class LimitExceededError extends GatewayError {
  constructor(message: string, limit: { limit: string; max: number; actual?: number }) {
    super(message, ErrorCode.LIMIT_EXCEEDED, codeFirst(ErrorCode.LIMIT_EXCEEDED, limit, 400));
    this.name = 'LimitExceededError';
  }
}

/** The key's rate budget is spent: HTTP 429 with Retry-After. */
export class RateLimitedError extends GatewayError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      message,
      ErrorCode.RATE_LIMITED,
      codeFirst(ErrorCode.RATE_LIMITED, { retryAfterSeconds }, 429, new Map([['retry-after', String(retryAfterSeconds)]])),
    );
    this.name = 'RateLimitedError';
  }
}

/** What Apollo makes of any thrown value (its `ensureGraphQLError`): a GraphQLError as it is, else one with the value's message and no code. */
export function ensureGraphQLError(e: unknown): GraphQLError {
  if (e instanceof GraphQLError) return e;
  if (e instanceof Error) return new GraphQLError(e.message, { originalError: e });
  return new GraphQLError(`Unexpected error value: ${String(e)}`);
}

/** The gateway's own store is locked by another writer: a change was refused at once, not waited for. */
export class StoreBusyError extends GatewayError {
  constructor() {
    super('The gateway’s store is busy (locked by another writer); nothing was changed. Try again shortly.', ErrorCode.STORE_BUSY);
    this.name = 'StoreBusyError';
  }
}

/**
 * One source failed for this request, or (`entity`) one of its mappings did not match it while
 * the source answered (`cost: table "tabItem Price" does not exist`); the answer is partial, never absent.
 */
export class SourceUnavailableError extends GatewayError {
  constructor(
    readonly sourceName: string,
    reason: string,
    entity?: string,
  ) {
    super(
      entity === undefined
        ? `Source "${sourceName}" is unavailable (${reason}); its figures are missing or fell back to the next source.`
        : // the reason names the entity already: `Source "erp" cost: table "tabItem Price" does not exist; ...`
          `Source "${sourceName}" ${reason}; its ${entity} figures are missing or fell back to the next source.`,
      ErrorCode.SOURCE_UNAVAILABLE,
      { source: sourceName, ...(entity !== undefined ? { entity } : {}) },
    );
    this.name = 'SourceUnavailableError';
  }
}

/**
 * A source sent records that could not be used (a quantity that is not a number, an absurd
 * value, an asOf in the future): they were dropped, their figures fell back to the next
 * source (flag INVALID_SOURCE_DATA) and anomalies were recorded. One error per source.
 */
export class InvalidSourceDataError extends GatewayError {
  constructor(
    readonly sourceName: string,
    records: ReadonlyArray<{ sku: string; location: string | null; reason: string }>,
  ) {
    const shown = records.slice(0, 20);
    super(
      `Source "${sourceName}" sent ${records.length} invalid record${records.length === 1 ? '' : 's'}; ${records.length === 1 ? 'it was' : 'they were'} dropped and recorded as anomalies (INVALID_SOURCE_DATA).`,
      ErrorCode.INVALID_SOURCE_DATA,
      { source: sourceName, count: records.length, records: shown.map((r) => ({ sku: r.sku, location: r.location, reason: r.reason })) },
    );
    this.name = 'InvalidSourceDataError';
  }
}

/**
 * The same idempotency key came with a different request (the IETF Idempotency-Key draft's 422;
 * Stripe's idempotency_error): nothing was held, the first request's result stands.
 */
export class IdempotencyConflictError extends GatewayError {
  constructor(key: string) {
    super(
      `Idempotency key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 79)}…` : key)} was already used with a different request; nothing was held. Use a new key for a new request.`,
      ErrorCode.IDEMPOTENCY_CONFLICT,
      codeFirst(ErrorCode.IDEMPOTENCY_CONFLICT, { argumentName: 'idempotencyKey' }, 422),
    );
    this.name = 'IdempotencyConflictError';
  }
}

/** No reservation has this id (never made, or made on another store). */
export class ReservationNotFoundError extends GatewayError {
  constructor(id: string) {
    super(`No reservation has the id ${JSON.stringify(id.length > 80 ? `${id.slice(0, 79)}…` : id)}.`, ErrorCode.RESERVATION_NOT_FOUND, { id });
    this.name = 'ReservationNotFoundError';
  }
}

/** The reservation's status does not allow this step: `extensions.status` is the status it has. */
export class InvalidReservationStateError extends GatewayError {
  constructor(id: string, status: string, step: string, allowed: string) {
    super(`Reservation ${id} is ${status}: only ${allowed} can be ${step}.`, ErrorCode.INVALID_RESERVATION_STATE, { id, status });
    this.name = 'InvalidReservationStateError';
  }
}
