/**
 * Every error a client can see carries one of these codes in `extensions.code`. Anything
 * thrown that is not a GatewayError is masked as INTERNAL_SERVER_ERROR by the server, so
 * SQL, stack traces and file paths never reach a response.
 */
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  BAD_REQUEST = 'BAD_REQUEST',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  LIMIT_EXCEEDED = 'LIMIT_EXCEEDED',
  RATE_LIMITED = 'RATE_LIMITED',
  SOURCE_UNAVAILABLE = 'SOURCE_UNAVAILABLE',
  INVALID_SOURCE_DATA = 'INVALID_SOURCE_DATA',
  STORE_BUSY = 'STORE_BUSY',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

export class GatewayError extends GraphQLError {
  constructor(message: string, code: ErrorCode, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
    this.name = 'GatewayError';
  }
}

/** The caller asked for something malformed; the message names the bad value. */
export class BadUserInputError extends GatewayError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, ErrorCode.BAD_USER_INPUT, extensions);
    this.name = 'BadUserInputError';
  }
}

/** The gateway's own store is locked by another writer: a change was refused at once, not waited for. */
export class StoreBusyError extends GatewayError {
  constructor() {
    super('The gateway’s store is busy (locked by another writer); nothing was changed. Try again shortly.', ErrorCode.STORE_BUSY);
    this.name = 'StoreBusyError';
  }
}

/** One source failed for this request; the answer is partial, never absent. */
export class SourceUnavailableError extends GatewayError {
  constructor(
    readonly sourceName: string,
    reason: string,
  ) {
    super(
      `Source "${sourceName}" is unavailable (${reason}); its figures are missing or fell back to the next source.`,
      ErrorCode.SOURCE_UNAVAILABLE,
      { source: sourceName },
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
