/**
 * The subgraph schema's names, and so every answer, stay one-byte strings in V8
 * (src/server/federation.ts, `internOneByte`). `buildSubgraphSchema` parses a print of the schema
 * that V8 holds as two-byte; without our names interned first, every answer's JSON came out
 * two-byte and Node transcoded it to UTF-8 twice: 30 % more CPU per availability request on the
 * bench. Not a timing: a string's representation, read from V8's own serializer (a one-byte
 * string is tagged `"`, a two-byte one `c`). The answers are the strings a gateway started by
 * `inventory-graph start --demo` hands to `res.end`, reported by a probe preloaded into it
 * (test/helpers/one-byte-probe.mjs): in a process of its own, as it runs in production, since
 * which copy of a word V8 keeps depends on everything the process did before.
 */
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { serialize } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentNamed } from '../../src/server/documents.js';
import { readTypeDefs } from '../../src/server/federation.js';
import { createSchema, SCHEMA_DIR } from '../../src/server/graphql.js';
import { BIN, servingUrl } from '../helpers/serving.js';

const PROBE = join(import.meta.dirname, '..', 'helpers', 'one-byte-probe.mjs');

/** V8's serializer writes a one-byte string as tag 0x22 (`"`), a two-byte one as 0x63 (`c`), after a padding byte (0) when needed. */
function twoByte(s: string): boolean {
  const b = serialize(s);
  // b[0..1]: the header (0xff, version)
  return b[2] === 0x63 || (b[2] === 0x00 && b[3] === 0x63);
}

describe('the V8 representation check itself', () => {
  it('tells a two-byte string from a one-byte one with the same characters', () => {
    const one = Buffer.from('provenance.byLocation', 'latin1').toString('latin1');
    // cut from a two-byte string (V8 keeps a slice of 13 characters or more in its parent's representation)
    const two = `\u0100${one}`.slice(1);
    expect(two).toBe(one);
    expect(twoByte(one)).toBe(false);
    expect(twoByte(two)).toBe(true);
    // a longer one, where the serializer pads before the tag
    expect(twoByte(`\u0100${'x'.repeat(300)}`.slice(1))).toBe(true);
    expect(twoByte(`\u0100${'x'.repeat(301)}`.slice(1))).toBe(true);
  });
});

describe('the subgraph schema', () => {
  // federation's own types (`link__Purpose`, `federation__Scope`, `_Any`, ...) are made by its code
  // and may be two-byte; they are never in an answer but `_service`'s and introspection's
  it('names every type, field, argument and enum value of schema/ with a one-byte string', () => {
    const schema = createSchema();
    const ours = new Set(readTypeDefs(SCHEMA_DIR).definitions.flatMap((d) => ('name' in d && d.name !== undefined ? [d.name.value] : [])));
    const names: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!ours.has(type.name)) continue;
      names.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          names.push(field.name);
          if ('args' in field) names.push(...field.args.map((a: { name: string }) => a.name));
        }
      }
      if (isEnumType(type)) for (const v of type.getValues()) names.push(v.name, String(v.value));
    }
    expect(names.length).toBeGreaterThan(500);
    expect(names.filter(twoByte)).toEqual([]);
  });
});

describe('answers of a gateway started from the command line', () => {
  let child: ChildProcess;
  let url: string;
  let omsKey: string;
  let stderr = '';
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ig-one-byte-'));
    // the probe reports, for each answer, how V8 holds the string the server sends (test/helpers/one-byte-probe.mjs)
    child = spawn(process.execPath, ['--import', PROBE, BIN, 'start', '--demo', '--dir', dir, '--skus', '200', '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    url = await servingUrl(child.stdout as Readable, exited, { ready: (o) => /^\s+oms\s+ig_/m.test(o), stderr: () => stderr });
    omsKey = /^\s+oms\s+(ig_\S+)/m.exec(out)?.[1] as string;
  }, 120_000);
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const availability = documentNamed('BenchAvailability');

  it.each([
    ['by trusted-document id (the fast path)', { extensions: { persistedQuery: { version: 1, sha256Hash: availability.id } } }],
    ['as query text (Apollo and the jit)', { query: availability.body }],
  ])('are sent as one-byte strings for availability %s', async (_, request) => {
    const skus = Array.from({ length: 20 }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`);
    const before = stderr.length;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': omsKey },
      body: JSON.stringify({ ...request, variables: { skus } }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect((JSON.parse(text) as { data: { availability: unknown[] } }).data.availability).toHaveLength(20);
    // enum values and the keys the jit writes are in it
    expect(text).toMatch(/"byLocation":\[\{/);
    expect(text).toMatch(/"flags":\["[A-Z_]+"/);
    await waitFor(() => stderr.slice(before).includes('one-byte-probe'));
    const probe = stderr
      .slice(before)
      .split('\n')
      .filter((l) => l.startsWith('one-byte-probe'));
    expect(probe).toHaveLength(1);
    expect(probe[0]).toMatch(/^one-byte-probe one-byte \d+ \{"data":\{"availability"/);
  });
});

async function waitFor(ok: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}
