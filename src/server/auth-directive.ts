/**
 * `@auth(requires: ROLE)` in schema/: the rule stands next to the field it guards. This
 * transformer wraps each guarded field's resolver, so the check holds on every path that
 * reaches the field (nested, aliased, through fragments). A key below the required role gets
 * FORBIDDEN for that field only: the field is null and the rest of the answer is returned.
 */
import { MapperKind, getDirective, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import { ForbiddenError } from '../errors.js';
import { allows, type Role } from './auth.js';
import type { GatewayContext } from './context.js';

export function authDirectiveTransformer(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
      const requires = getDirective(schema, field, 'auth')?.[0]?.requires as string | undefined;
      if (requires === undefined) return field;
      const role = requires.toLowerCase() as Role;
      const resolve = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        resolve(source, args, ctx: GatewayContext, info) {
          if (!allows(ctx.principal.role, role)) {
            throw new ForbiddenError(`${typeName}.${fieldName} needs the ${role} role; this key (${ctx.principal.name}) is ${ctx.principal.role}.`);
          }
          return resolve(source, args, ctx, info);
        },
      };
    },
  });
}
