/**
 * The file parser against what it answered before it streamed into packed columns: every
 * fixture below was read by the map-based loader (commit 9ff0e5f) and its answer recorded as
 * the inline snapshot; the streaming loader must answer exactly the same records, refusals,
 * reasons and line numbers. Quoted fields (delimiters, quotes and a line break inside quotes),
 * other delimiters, a byte-order mark, CRLF line ends, JSON lines, movements, and bad rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvSourceSchema } from '../../src/config/schema.js';
import { createCsvConnector, type RejectedFile } from '../../src/sources/csv.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ig-csv-eq-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COLUMNS = { sku: 'client_sku', location: 'facility', onHand: 'on_hand', committed: 'allocated', asOf: 'snapshot_at' };
const HEADER = 'client_sku,facility,lot,on_hand,allocated,snapshot_at';
const MOVEMENTS = [
  { kind: 'inTransit', columns: { sku: 'client_sku', location: 'facility', quantity: 'in_transit' } },
  { columns: { sku: 'client_sku', location: 'facility', quantity: 'other', kind: 'other_kind' } },
];

interface Fixture {
  file: string;
  text: string;
  config?: Record<string, unknown>;
}

const FIXTURES: Record<string, Fixture> = {
  'quoted fields': {
    file: 'inventory-2026-11-25.csv',
    text: `${HEADER}\n"A,1",W01,"L ""x""",10,1,2026-11-25T21:00:00Z\n"A,1","W01","multi\nline lot"," 5 ",0,\nB2,"W 02",L1,"3","1","2026-11-25 06:00:00"\n`,
  },
  'semicolon delimiter, padded values, sums': {
    file: 'inventory-2026-11-25.csv',
    text: 'client_sku ; facility;lot;on_hand;allocated;snapshot_at\n A1 ; W01 ;L1; 4 ;1;2026-11-25T01:00:00Z\nA1;W01;L2;6;;2026-11-25T03:00:00Z\nA1;W02;L1;0;0;\n',
    config: { delimiter: ';' },
  },
  'tab delimiter': {
    file: 'inventory-2026-11-25.tsv',
    text: `${HEADER.replaceAll(',', '\t')}\nA1\tW01\tL1\t7\t2\t1764111600\nC3\tW01\tL1\t-2\t0\t2026-11-25\n`,
    config: { delimiter: '\t', path: 'inventory-*.tsv' },
  },
  'byte-order mark and CRLF': {
    file: 'inventory-2026-11-25.csv',
    text: `\uFEFF${HEADER}\r\nA1,W01,L1,10,1,2026-11-25T21:00:00Z\r\n\r\nB2,W01,L1,4,0,2026-11-25T21:00:00Z\r\n`,
  },
  'JSON lines with a byte-order mark, CRLF, strings and numbers': {
    file: 'inventory-2026-11-25.jsonl',
    text: '\uFEFF{"client_sku":"A1","facility":"W01","on_hand":4,"allocated":"1","snapshot_at":"2026-11-25T08:00:00Z"}\r\n\r\n{"client_sku":" A1 ","facility":"W01","on_hand":"2","allocated":null}\r\n{"client_sku":"B2","facility":"W02","on_hand":0,"snapshot_at":1764111600000}\n',
    config: { path: 'inventory-*.jsonl' },
  },
  movements: {
    file: 'inventory-2026-11-25.csv',
    text: 'client_sku,facility,on_hand,in_transit,other,other_kind\nA1,W01,5,2,1,pickedNotInvoiced\nA1,W01,1,3,0,receivedNotPutAway\nB2,W01,1,0,4,receivedNotPutAway\nA1,W02,0,1,,\n',
    config: { stock: { columns: { sku: 'client_sku', location: 'facility', onHand: 'on_hand' } }, movements: MOVEMENTS },
  },
  'interleaved codes and locations, in file order per code': {
    file: 'inventory-2026-11-25.csv',
    text: `${HEADER}\nzeta,W03,L1,2,0,2026-11-25T01:00:00Z\nÉclair,W01,L1,1,0,2026-11-25T02:00:00Z\nzeta,W01,L1,4,1,2026-11-25T03:00:00Z\nAlpha,W02,L1,9,9,\nzeta,W03,L2,3,1,2026-11-25T05:00:00Z\nalpha,W02,L1,1,0,\nzeta,W03,L3,0,0,2026-11-25T04:00:00Z\nÉclair,W01,L2,-1,0,2026-11-25T01:00:00Z\n`,
  },
  'a torn last row': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\nA1,W01,L1,11,1,2026-11-25T21:00:00Z\nB2,W01,L1,5` },
  'a row with a field too many': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\nA1,W01,L1,11,1,2026-11-25T21:00:00Z,extra\n` },
  'an unclosed quote': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\nA1,W01,"L1,10,1,\nB2,W01,L1,4,0,\n` },
  'a quote inside an unquoted field': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\nA1,W"01,L1,10,1,\n` },
  'a fractional quantity after a line break in quotes': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\nA1,W01,"L\n1",10,1,\nB2,W01,L1,2.5,0,\n` },
  'missing columns': { file: 'inventory-2026-11-25.csv', text: 'client_sku;facility;on_hand\nA1;W01;3\n' },
  'an empty location': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\nA1, ,L1,10,1,\n` },
  'an unknown movement kind': {
    file: 'inventory-2026-11-25.csv',
    text: 'client_sku,facility,on_hand,in_transit,other,other_kind\nA1,W01,5,2,1,lost\n',
    config: { stock: { columns: { sku: 'client_sku', location: 'facility', onHand: 'on_hand' } }, movements: MOVEMENTS },
  },
  'a torn JSON line': {
    file: 'inventory-2026-11-25.jsonl',
    text: '{"client_sku":"A1","facility":"W01","on_hand":4}\n{"client_sku":"B2","fac',
    config: { path: 'inventory-*.jsonl' },
  },
  'a JSON array line': {
    file: 'inventory-2026-11-25.jsonl',
    text: '{"client_sku":"A1","facility":"W01","on_hand":4}\n[1,2]\n',
    config: { path: 'inventory-*.jsonl' },
  },
  'a JSON quantity that is not whole': {
    file: 'inventory-2026-11-25.jsonl',
    text: '{"client_sku":"A1","facility":"W01","on_hand":true}\n',
    config: { path: 'inventory-*.jsonl' },
  },
  'only blank lines': { file: 'inventory-2026-11-25.csv', text: `${HEADER}\n\n\n` },
};

/** Everything the connector answers for one fixture, with the temporary directory written as `<dir>`. */
async function answer(f: Fixture) {
  const at = mkdtempSync(join(dir, 'f-'));
  writeFileSync(join(at, f.file), f.text);
  const { path = 'inventory-*.csv', ...config } = f.config ?? {};
  const rejected: RejectedFile[] = [];
  const c = createCsvConnector(
    'tpl',
    csvSourceSchema.parse({ kind: 'csv', path: join(at, path as string), checkIntervalMs: 0, stock: { columns: COLUMNS }, ...config }),
    {
      events: { rejected: (r) => rejected.push(r) },
    },
  );
  const out: Record<string, unknown> = {};
  try {
    await c.ping();
    const codes = await c.listCodes(null, 1000);
    out.codes = codes;
    out.stock = await c.fetch('stock', codes);
    if (c.entities.has('movements')) out.movements = await c.fetch('movements', codes);
  } catch (e) {
    out.error = (e as Error).message;
  }
  out.rejected = rejected.map(({ line, reason }) => ({ line, reason }));
  return JSON.parse(JSON.stringify(out).replaceAll(at, '<dir>'));
}

describe('the streaming loader', () => {
  it('answers on every fixture what the map-based loader did', async () => {
    const answers: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(FIXTURES)) answers[name] = await answer(f);
    expect(answers).toMatchInlineSnapshot(`
      {
        "JSON lines with a byte-order mark, CRLF, strings and numbers": {
          "codes": [
            "A1",
            "B2",
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2026-11-25T08:00:00.000Z",
              "code": "A1",
              "committed": 1,
              "location": "W01",
              "onHand": 6,
            },
            {
              "asOf": "2025-11-25T23:00:00.000Z",
              "code": "B2",
              "committed": 0,
              "location": "W02",
              "onHand": 0,
            },
          ],
        },
        "a JSON array line": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.jsonl (last refused: <dir>/inventory-2026-11-25.jsonl:2: not a JSON object)",
          "rejected": [
            {
              "line": 2,
              "reason": "not a JSON object",
            },
          ],
        },
        "a JSON quantity that is not whole": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.jsonl (last refused: <dir>/inventory-2026-11-25.jsonl:1: on_hand: not a whole quantity: true)",
          "rejected": [
            {
              "line": 1,
              "reason": "on_hand: not a whole quantity: true",
            },
          ],
        },
        "a fractional quantity after a line break in quotes": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:4: on_hand: not a whole quantity: "2.5")",
          "rejected": [
            {
              "line": 4,
              "reason": "on_hand: not a whole quantity: "2.5"",
            },
          ],
        },
        "a quote inside an unquoted field": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:2: a quote is found on field "facility" at line 2, value is "W")",
          "rejected": [
            {
              "line": 2,
              "reason": "a quote is found on field "facility" at line 2, value is "W"",
            },
          ],
        },
        "a row with a field too many": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:2: columns length is 6, got 7 on line 2)",
          "rejected": [
            {
              "line": 2,
              "reason": "columns length is 6, got 7 on line 2",
            },
          ],
        },
        "a torn JSON line": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.jsonl (last refused: <dir>/inventory-2026-11-25.jsonl:2: not a JSON object (a torn line?))",
          "rejected": [
            {
              "line": 2,
              "reason": "not a JSON object (a torn line?)",
            },
          ],
        },
        "a torn last row": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:3: columns length is 6, got 4 on line 3)",
          "rejected": [
            {
              "line": 3,
              "reason": "columns length is 6, got 4 on line 3",
            },
          ],
        },
        "an empty location": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:2: empty facility)",
          "rejected": [
            {
              "line": 2,
              "reason": "empty facility",
            },
          ],
        },
        "an unclosed quote": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:3: Quote Not Closed: the parsing is finished with an opening quote at line 3)",
          "rejected": [
            {
              "line": 3,
              "reason": "Quote Not Closed: the parsing is finished with an opening quote at line 3",
            },
          ],
        },
        "an unknown movement kind": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:2: unknown movement kind "lost" (known: pickedNotInvoiced, inTransit, receivedNotPutAway, countNotPosted, pickedNotDelivered))",
          "rejected": [
            {
              "line": 2,
              "reason": "unknown movement kind "lost" (known: pickedNotInvoiced, inTransit, receivedNotPutAway, countNotPosted, pickedNotDelivered)",
            },
          ],
        },
        "byte-order mark and CRLF": {
          "codes": [
            "A1",
            "B2",
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2026-11-25T21:00:00.000Z",
              "code": "A1",
              "committed": 1,
              "location": "W01",
              "onHand": 10,
            },
            {
              "asOf": "2026-11-25T21:00:00.000Z",
              "code": "B2",
              "committed": 0,
              "location": "W01",
              "onHand": 4,
            },
          ],
        },
        "interleaved codes and locations, in file order per code": {
          "codes": [
            "Alpha",
            "alpha",
            "zeta",
            "Éclair",
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "Alpha",
              "committed": 9,
              "location": "W02",
              "onHand": 9,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "alpha",
              "committed": 0,
              "location": "W02",
              "onHand": 1,
            },
            {
              "asOf": "2026-11-25T05:00:00.000Z",
              "code": "zeta",
              "committed": 1,
              "location": "W03",
              "onHand": 5,
            },
            {
              "asOf": "2026-11-25T03:00:00.000Z",
              "code": "zeta",
              "committed": 1,
              "location": "W01",
              "onHand": 4,
            },
            {
              "asOf": "2026-11-25T02:00:00.000Z",
              "code": "Éclair",
              "committed": 0,
              "location": "W01",
              "onHand": 0,
            },
          ],
        },
        "missing columns": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv:1: missing columns "client_sku", "facility", "on_hand" (header: client_sku;facility;on_hand))",
          "rejected": [
            {
              "line": 1,
              "reason": "missing columns "client_sku", "facility", "on_hand" (header: client_sku;facility;on_hand)",
            },
          ],
        },
        "movements": {
          "codes": [
            "A1",
            "B2",
          ],
          "movements": [
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "A1",
              "kind": "inTransit",
              "location": "W01",
              "quantity": 5,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "A1",
              "kind": "pickedNotInvoiced",
              "location": "W01",
              "quantity": 1,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "A1",
              "kind": "inTransit",
              "location": "W02",
              "quantity": 1,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "B2",
              "kind": "receivedNotPutAway",
              "location": "W01",
              "quantity": 4,
            },
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "A1",
              "committed": 0,
              "location": "W01",
              "onHand": 6,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "A1",
              "committed": 0,
              "location": "W02",
              "onHand": 0,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "B2",
              "committed": 0,
              "location": "W01",
              "onHand": 1,
            },
          ],
        },
        "only blank lines": {
          "error": "source "tpl": no usable file matches <dir>/inventory-*.csv (last refused: <dir>/inventory-2026-11-25.csv: no rows (an empty or half-written file?))",
          "rejected": [
            {
              "line": null,
              "reason": "no rows (an empty or half-written file?)",
            },
          ],
        },
        "quoted fields": {
          "codes": [
            "A,1",
            "B2",
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2026-11-25T21:00:00.000Z",
              "code": "A,1",
              "committed": 1,
              "location": "W01",
              "onHand": 15,
            },
            {
              "asOf": "2026-11-25T06:00:00.000Z",
              "code": "B2",
              "committed": 1,
              "location": "W 02",
              "onHand": 3,
            },
          ],
        },
        "semicolon delimiter, padded values, sums": {
          "codes": [
            "A1",
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2026-11-25T03:00:00.000Z",
              "code": "A1",
              "committed": 1,
              "location": "W01",
              "onHand": 10,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "A1",
              "committed": 0,
              "location": "W02",
              "onHand": 0,
            },
          ],
        },
        "tab delimiter": {
          "codes": [
            "A1",
            "C3",
          ],
          "rejected": [],
          "stock": [
            {
              "asOf": "2025-11-25T23:00:00.000Z",
              "code": "A1",
              "committed": 2,
              "location": "W01",
              "onHand": 7,
            },
            {
              "asOf": "2026-11-25T00:00:00.000Z",
              "code": "C3",
              "committed": 0,
              "location": "W01",
              "onHand": -2,
            },
          ],
        },
      }
    `);
  });
});
