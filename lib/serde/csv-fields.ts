/**
 * Parsing one framed CSV record into its cells: a plain split when it holds no quote,
 * csv-parse otherwise, with csv-parse's errors renumbered to file lines.
 */
import { parse as parseCsvSync } from 'csv-parse/sync';

/** The cells of a record, or why they could not be parsed. */
export type Fields = { ok: true; fields: string[] } | { ok: false; detail: string };

/**
 * Splits `text` (one record, starting on file line `line`) into cells.
 *
 * @example
 * ```ts
 * parseFields('1,"x,y",3', 2, ',', true); // { ok: true, fields: ['1', 'x,y', '3'] }
 * ```
 */
export function parseFields(text: string, line: number, delimiter: string, relaxQuotes: boolean): Fields {
  if (!text.includes('"')) return { ok: true, fields: text.split(delimiter) };
  try {
    const rows = parseCsvSync(text, {
      delimiter: delimiter,
      record_delimiter: '\n',
      relax_quotes: relaxQuotes,
      relax_column_count: true,
      skip_empty_lines: false,
      bom: false,
    }) as string[][];
    const row = rows[0];
    if (rows.length !== 1 || row === undefined) return { ok: false, detail: `expected one record, parsed ${rows.length}` };
    return { ok: true, fields: row };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // csv-parse numbers lines within the single record it was given; report file lines.
    return { ok: false, detail: msg.replace(/\bline (\d+)/g, (_m, n: string) => `line ${line + Number(n) - 1}`) };
  }
}
