/**
 * `@auth(requires: ROLE)` in schema/: the rule stands next to the field it guards. This
 * transformer wraps each guarded field's resolver, so the check holds on every path that
 * reaches the field (nested, aliased, through fragments). A key below the required role gets
 * FORBIDDEN for that field only: the field is null and the rest of the answer is returned. On
 * an argument, the same check holds only when the argument is given (`inventoryItems(filter:)`:
 * the catalogue for everyone, the scan for analysts).
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
      // an argument guarded on its own (`filter: X @auth(requires: ANALYST)`): refused only when given
      const guardedArgs = Object.entries(field.args ?? {}).flatMap(([name, arg]) => {
        const r = getDirective(schema, arg, 'auth')?.[0]?.requires as string | undefined;
        return r === undefined ? [] : [{ name, role: r.toLowerCase() as Role }];
      });
      if (requires === undefined && guardedArgs.length === 0) return field;
      const role = requires?.toLowerCase() as Role | undefined;
      const resolve = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        resolve(source, args: Record<string, unknown>, ctx: GatewayContext, info) {
          if (role !== undefined && !allows(ctx.principal.role, role)) {
            throw new ForbiddenError(`${typeName}.${fieldName} needs the ${role} role; this key (${ctx.principal.name}) is ${ctx.principal.role}.`);
          }
          for (const g of guardedArgs) {
            if (args[g.name] !== undefined && args[g.name] !== null && !allows(ctx.principal.role, g.role)) {
              throw new ForbiddenError(
                `${typeName}.${fieldName}(${g.name}:) needs the ${g.role} role; this key (${ctx.principal.name}) is ${ctx.principal.role}. Ask without \`${g.name}\`.`,
              );
            }
          }
          return resolve(source, args, ctx, info);
        },
      };
    },
  });
}
