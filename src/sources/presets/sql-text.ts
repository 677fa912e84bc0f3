/**
 * Small helpers for the SQL the presets write: a preset option (a company name, a price list)
 * becomes a quoted MySQL string literal, never raw text; a prefixed table name a quoted
 * identifier; and a multi-line statement one line, as logs and `config check` show it.
 */

/** `v` as a MySQL/MariaDB string literal: quotes doubled, backslashes doubled (MySQL reads `\` as an escape). */
export function mysqlString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A table name with a prefix (WooCommerce's `wp_`), as a MySQL identifier. */
export function mysqlName(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** Collapses a preset's multi-line SQL to one line. */
export function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}
