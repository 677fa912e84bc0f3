/**
 * The error codes and the classes that carry them: every Apollo code is one of ours, and each
 * refusal's extensions keep the order and HTTP head they have always had (responses are
 * compared byte for byte elsewhere: test/security/*, test/e2e/fast-path.test.ts).
 */
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  BadUserInputError,
  ensureGraphQLError,
  ErrorCode,
  ForbiddenError,
  LimitExceededError,
  OperationResolutionError,
  RateLimitedError,
  StoreBusyError,
} from '../../src/errors.js';

describe('ErrorCode', () => {
  it("is Apollo's codes plus ours", () => {
    for (const code of Object.values(ApolloServerErrorCode)) expect(Object.values(ErrorCode), code).toContain(code);
  });
});

describe('the error classes', () => {
  const ext = (e: GraphQLError) => JSON.stringify(e.extensions, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v));
  it('put the code first and the HTTP head last, as before', () => {
    expect(ext(new LimitExceededError('m', { limit: 'maxDepth', max: 10, actual: 11 }))).toBe(
      '{"code":"LIMIT_EXCEEDED","limit":"maxDepth","max":10,"actual":11,"http":{"status":400}}',
    );
    expect(ext(new LimitExceededError('m', { limit: 'maxTokens', max: 2000 }))).toBe(
      '{"code":"LIMIT_EXCEEDED","limit":"maxTokens","max":2000,"http":{"status":400}}',
    );
    expect(ext(BadUserInputError.tooManySkus('m', { max: 500, actual: 501 }))).toBe(
      '{"code":"BAD_USER_INPUT","limit":"maxSkus","max":500,"actual":501,"http":{"status":400}}',
    );
    expect(ext(new BadRequestError('m'))).toBe('{"code":"BAD_REQUEST","http":{"status":400}}');
    expect(ext(new OperationResolutionError('m'))).toBe('{"code":"OPERATION_RESOLUTION_FAILURE","http":{"status":400}}');
    expect(ext(new ForbiddenError('m', 403))).toBe('{"code":"FORBIDDEN","http":{"status":403}}');
    expect(ext(new ForbiddenError('m'))).toBe('{"code":"FORBIDDEN"}');
    expect(ext(new RateLimitedError('m', 7))).toBe('{"code":"RATE_LIMITED","retryAfterSeconds":7,"http":{"status":429,"headers":{"retry-after":"7"}}}');
    expect(ext(new StoreBusyError())).toBe('{"code":"STORE_BUSY"}');
    expect(ext(new BadUserInputError('m', { field: 'x' }))).toBe('{"field":"x","code":"BAD_USER_INPUT"}');
  });

  it('turns a refused variable into BAD_USER_INPUT with HTTP 400 and its locations', () => {
    const refused = new GraphQLError('Variable "$n" got invalid value 42', { extensions: {} });
    (refused as { locations?: GraphQLError['locations'] }).locations = [{ line: 1, column: 9 }];
    const e = BadUserInputError.variable(refused);
    expect(e.message).toBe(refused.message);
    expect(e.locations).toEqual([{ line: 1, column: 9 }]);
    expect(ext(e)).toBe('{"code":"BAD_USER_INPUT","http":{"status":400}}');
  });

  it("makes a GraphQLError of any thrown value as Apollo's ensureGraphQLError does", () => {
    const g = new GraphQLError('g');
    expect(ensureGraphQLError(g)).toBe(g);
    const boom = new Error('boom');
    expect(ensureGraphQLError(boom)).toMatchObject({ message: 'boom', originalError: boom, extensions: {} });
    expect(ensureGraphQLError(3).message).toBe('Unexpected error value: 3');
  });
});
