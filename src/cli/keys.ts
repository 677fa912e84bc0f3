/** `inventory-graph keys create`: a new API key, shown once, and the config line with its hash. */
import { hashKey, newKey, ROLES } from '../server/auth.js';
import { UsageError, type ParsedArgs } from './args.js';

export function keysCreateCommand({ values }: ParsedArgs): number {
  const { role, name } = values;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}${typeof role === 'string' ? `, got "${role}"` : ''}`);
  }
  if (typeof name !== 'string' || !/^[\w.:-]{1,64}$/.test(name)) throw new UsageError('--name is required: up to 64 letters, digits and _ . : -');
  const key = newKey();
  process.stdout.write(
    `New ${role} key "${name}" (shown once: store it now, it cannot be recovered):\n\n  ${key}\n\nAdd this line under auth.keys in the config:\n\n  - { name: ${name}, role: ${role}, hash: "${hashKey(key)}" }\n`,
  );
  return 0;
}
