/** The custom scalars: instants as ISO-8601 UTC strings, decimals as exact strings. */
import { GraphQLScalarType, Kind } from 'graphql';
import { BadUserInputError } from '../src/errors.js';

export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()),
  parseValue: (v) => parseInstant(v),
  parseLiteral: (ast) => parseInstant(ast.kind === Kind.STRING ? ast.value : undefined),
});

export const Decimal = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  serialize: (v) => String(v),
  parseValue: (v) => parseDecimal(v),
  parseLiteral: (ast) => parseDecimal(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseInstant(v: unknown): Date {
  const d = typeof v === 'string' ? new Date(v) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) throw new BadUserInputError(`Not an ISO-8601 instant: ${JSON.stringify(v)}`);
  return d;
}

function parseDecimal(v: unknown): string {
  if (typeof v !== 'string' || !/^-?\d+(\.\d+)?$/.test(v)) throw new BadUserInputError(`Not a decimal string: ${JSON.stringify(v)}`);
  return v;
}
