/**
 * Who is asking. Every request to /graphql carries an API key (`Authorization: Bearer KEY` or
 * `x-api-key: KEY`; never in the URL). Keys are configured as SHA-256 hashes with a name and a
 * role; the presented key is hashed and compared against every configured hash in constant
 * time, so neither the key nor which entry matched leaks through timing. Keys are 32 random
 * bytes, so a fast hash is enough: there is no password to guess.
 *
 * Roles are ordered: storefront < oms < analyst < admin; each can do what the ones below it can.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const ROLES = ['storefront', 'oms', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** The key's name in the config (`web`, `oms-prod`, ...), or `open` when auth is off. */
  name: string;
  role: Role;
}

export interface ApiKeyConfig {
  name: string;
  role: Role;
  /** `sha256:<64 hex digits>` */
  hash: string;
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; message: string };

/** Whether `role` may do what `required` may. */
export function allows(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** A new key: `ig_` + 43 characters of base64url (32 random bytes). */
export function newKey(): string {
  return `ig_${randomBytes(32).toString('base64url')}`;
}

const URL_KEY_PARAMS = ['api_key', 'apikey', 'api-key', 'key', 'token', 'access_token'];

export function createAuthenticator(o: { keys: readonly ApiKeyConfig[]; open: boolean }) {
  const entries = o.keys.map((k) => ({ ...k, digest: Buffer.from(k.hash.slice('sha256:'.length), 'hex') }));

  return function authenticate(headers: IncomingHttpHeaders, search: URLSearchParams): AuthResult {
    const inUrl = URL_KEY_PARAMS.find((p) => search.has(p));
    if (inUrl !== undefined) {
      return { ok: false, message: `API keys are never accepted in the URL (found "${inUrl}"): send Authorization: Bearer <key> or x-api-key.` };
    }
    if (o.open) return { ok: true, principal: { name: 'open', role: 'admin' } };
    const key = presentedKey(headers);
    if (key === undefined) return { ok: false, message: 'An API key is required: send Authorization: Bearer <key> or x-api-key: <key>.' };
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let found: (typeof entries)[number] | undefined;
    for (const e of entries) {
      // every entry is compared, whatever matched before
      if (timingSafeEqual(digest, e.digest) && found === undefined) found = e;
    }
    return found === undefined ? { ok: false, message: 'Unknown API key.' } : { ok: true, principal: { name: found.name, role: found.role } };
  };
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = headers['x-api-key'];
  return typeof x === 'string' && x.trim() !== '' ? x.trim() : undefined;
}
