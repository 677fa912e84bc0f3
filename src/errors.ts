/**
 * Every error a client can see carries one of these codes in `extensions.code`. Anything
 * thrown that is not a GatewayError is masked as INTERNAL_SERVER_ERROR by the server, so
 * SQL, stack traces and file paths never reach a response.
 */
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  SOURCE_UNAVAILABLE = 'SOURCE_UNAVAILABLE',
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
