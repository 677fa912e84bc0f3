/**
 * CSV as the CLI writes it (reconcile's lines.csv, gaps.csv and orphans.csv, the demo's
 * sku-map.csv), through csv-stringify's sync API: a cell with a comma, a quote or a line break
 * is quoted with its quotes doubled (RFC 4180), records end with `\n`, UTF-8 without a BOM, an
 * empty cell for null or undefined.
 *
 * Spreadsheet formula injection (OWASP "CSV Injection"): these files are opened in Excel,
 * LibreOffice or Numbers, and their text comes from source systems and users (SKU codes,
 * names, locations, orphan codes, gap details), so a text cell that starts with `=`, `+`, `-`,
 * `@`, a tab or a carriage return (or the full-width ＝ ＋ － ＠ some of them normalise) gets a
 * leading `'` and is shown as text instead of being run as a formula (csv-stringify's
 * `escape_formulas`). Every text cell is guarded, whatever its column: a code that only looks
 * like a number (`-5`) is text and comes out as `'-5`. A number is written as a number and never
 * guarded: a negative quantity or variance stays `-5`, a figure a spreadsheet adds up. So
 * figures must be passed as numbers, never as strings.
 *
 * The `'` is part of the file: a program that reads it back (csv-parse, `skus import`) gets
 * `'-5`, not `-5`.
 */
import { stringify } from 'csv-stringify/sync';

/** A cell: text (guarded), a number (written as it is), or nothing (an empty cell). */
export type CsvCell = string | number | null | undefined;

/** csv-stringify's options, as it names them. */
const OPTIONS = {
  /** The `'` guard above; csv-stringify leaves a number's `-` alone. */
  escape_formulas: true,
  /** `\n` after every record, the last one included. */
  record_delimiter: 'unix',
  eof: true,
  /** Quote a cell with a `\r` as well as one with a `\n` (an explicit record_delimiter turns that off): readers take either for a line break. */
  quote_record_delimiter: true,
} as const;

/** `rows` as CSV text, every row ending with `\n`; '' for no rows. */
export function csvRows(rows: readonly (readonly CsvCell[])[]): string {
  if (rows.length === 0) return '';
  return stringify(rows as CsvCell[][], OPTIONS);
}
