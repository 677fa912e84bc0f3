/**
 * CSV as the CLI writes it (reconcile's lines.csv, gaps.csv and orphans.csv, the demo's
 * sku-map.csv), through csv-stringify's sync API: a cell with a comma, a quote or a line break
 * is quoted with its quotes doubled (RFC 4180), records end with `\n`, UTF-8 without a BOM, an
 * empty cell for null or undefined.
 */
import { stringify } from 'csv-stringify/sync';

/** A cell: text, a number, or nothing (an empty cell). */
export type CsvCell = string | number | null | undefined;

/** csv-stringify's options, as it names them. */
const OPTIONS = {
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
