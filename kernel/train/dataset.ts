// Datasets for %train / %eval: a file read as an apache-arrow Table, then the text (or pre-tokenized input_ids) and
// label columns picked out as examples with class indices.
// Formats, by extension (.csv, .jsonl/.ndjson, .arrow/.arrows/.feather/.ipc) or, for any other name, by content:
// - CSV: header row, then one record per row (csv-parse; quoted fields may span lines). Every column is text.
//   LLMs-from-scratch ch06 writes train.csv as `Label,Text` with integer labels (ham 0, spam 1); the default
//   column names match it case-insensitively.
// - JSONL: one JSON object per line. A column of strings, numbers, booleans or arrays of numbers keeps that type;
//   a column mixing types, or holding objects, becomes text (JSON for non-strings).
// - Arrow IPC, file or stream format.
// Files are streamed (parsed record by record); only the table itself is held in memory.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { Bool, DataType, Field, Float64, List, RecordBatchReader, Table, Utf8, makeBuilder, type Vector } from 'apache-arrow';
import { UsageError, listSome } from '../errors.js';

export type DatasetFormat = 'csv' | 'jsonl' | 'arrow';

export interface DatasetTable {
  file: string;
  format: DatasetFormat;
  table: Table;
  /** Line in the file where each row ends (CSV, JSONL), for error messages; null for Arrow. */
  lines: Uint32Array | null;
}

const EXTENSIONS: Record<string, DatasetFormat> = {
  '.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.arrow': 'arrow', '.arrows': 'arrow', '.feather': 'arrow', '.ipc': 'arrow',
};

/** Reads a dataset file into an Arrow table. Throws UsageError naming the file and line for unreadable input. */
export async function loadDatasetTable(file: string): Promise<DatasetTable> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    throw new UsageError(`dataset file not found: ${file}`, `Check the path (relative paths start at ${process.cwd()}).`);
  }
  if (!stat.isFile()) throw new UsageError(`dataset path is not a file: ${file}`, 'Give a .csv, .jsonl or .arrow file.');
  const format = EXTENSIONS[path.extname(file).toLowerCase()] ?? await sniffFormat(file);
  const loaded = format === 'csv' ? await readCsv(file) : format === 'jsonl' ? await readJsonl(file) : { table: await readArrow(file), lines: null };
  return { file, format, ...loaded };
}

async function sniffFormat(file: string): Promise<DatasetFormat> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fd.read(head, 0, 8, 0);
    const bytes = head.subarray(0, bytesRead);
    if (bytes.subarray(0, 6).toString('latin1') === 'ARROW1' || bytes.readUInt32LE(0) === 0xffffffff) return 'arrow';
    return bytes.toString('utf8').trimStart().startsWith('{') ? 'jsonl' : 'csv';
  } finally {
    await fd.close();
  }
}

async function readCsv(file: string): Promise<{ table: Table; lines: Uint32Array }> {
  const parser = fs.createReadStream(file).pipe(parseCsv({ bom: true, skip_empty_lines: true, info: true }));
  let header: string[] | null = null;
  let builders: ReturnType<typeof textBuilder>[] = [];
  const lines: number[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record.map((h) => h.trim());
        const dup = header.find((h, i) => header!.indexOf(h) !== i);
        if (header.some((h) => h === '') || dup !== undefined) {
          throw new UsageError(`${file} line ${info.lines}: the CSV header has ${dup !== undefined ? `a duplicate column "${dup}"` : 'an empty column name'}`,
            'The first row must name every column once, e.g. text,label.');
        }
        builders = header.map(() => textBuilder());
        continue;
      }
      record.forEach((value, i) => builders[i].append(value));
      lines.push(info.lines);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const at = (e as { lines?: number }).lines;
    throw new UsageError(`${file}${at ? ` line ${at}` : ''}: malformed CSV: ${(e as Error).message}`,
      'Quote fields that contain commas, quotes or line breaks ("..." with "" for a quote), and give every row as many fields as the header.');
  }
  if (!header) throw new UsageError(`${file}: the file is empty`, 'A CSV dataset needs a header row (e.g. text,label) and one row per example.');
  const columns = Object.fromEntries(header.map((h, i) => [h, builders[i].finish().toVector()]));
  return { table: new Table(columns), lines: Uint32Array.from(lines) };
}

function textBuilder() {
  return makeBuilder({ type: new Utf8(), nullValues: [null, undefined] });
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

async function readJsonl(file: string): Promise<{ table: Table; lines: Uint32Array }> {
  const columns = new Map<string, JsonValue[]>();
  const lines: number[] = [];
  const input = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of input) {
    lineNo++;
    const text = lineNo === 1 ? line.replace(/^\uFEFF/, '') : line;
    if (text.trim() === '') continue;
    let obj: JsonValue;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${file} line ${lineNo}: malformed JSON: ${(e as Error).message}`, 'Each line of a JSONL file must be one JSON object, e.g. {"text": "...", "label": "spam"}.');
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new UsageError(`${file} line ${lineNo}: expected a JSON object, got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`, 'Each line of a JSONL file must be one JSON object, e.g. {"text": "...", "label": "spam"}.');
    }
    const row = lines.length;
    for (const [key, value] of Object.entries(obj)) {
      let col = columns.get(key);
      if (!col) columns.set(key, col = new Array<JsonValue>(row).fill(null));
      col.push(value);
    }
    lines.push(lineNo);
    for (const col of columns.values()) if (col.length === row) col.push(null);
  }
  const vectors = Object.fromEntries([...columns].map(([name, values]) => [name, jsonColumn(values)]));
  return { table: new Table(vectors), lines: Uint32Array.from(lines) };
}

/** An Arrow vector for one JSONL column: the values' common type, or text when they differ. */
function jsonColumn(values: JsonValue[]): Vector {
  const kinds = new Set(values.filter((v) => v !== null).map((v) =>
    Array.isArray(v) ? (v.every((x) => typeof x === 'number') ? 'numbers' : 'other') : typeof v));
  const kind = kinds.size === 1 ? [...kinds][0] : 'mixed';
  const type: DataType = kind === 'number' ? new Float64() : kind === 'boolean' ? new Bool()
    : kind === 'numbers' ? new List(new Field('item', new Float64(), true)) : new Utf8();
  const b = makeBuilder({ type, nullValues: [null, undefined] });
  for (const v of values) b.append(type instanceof Utf8 && v !== null && typeof v !== 'string' ? JSON.stringify(v) : v);
  return b.finish().toVector();
}

async function readArrow(file: string): Promise<Table> {
  try {
    const reader = await RecordBatchReader.from(fs.createReadStream(file));
    const batches = [];
    for await (const batch of reader) batches.push(batch);
    return batches.length ? new Table(batches) : new Table(reader.schema);
  } catch (e) {
    throw new UsageError(`${file}: not a readable Arrow IPC file or stream: ${(e as Error).message}`, 'Write the table with Arrow IPC (e.g. pyarrow.feather.write_feather or ipc.new_file).');
  }
}

// ---- examples: the text (or input_ids) and label columns as class indices ----

export interface ExampleOptions {
  /**
   * Text column (default "text", matched case-insensitively; without one, "input_ids"). A list column, or one named
   * input_ids (e.g. "[128000, 9906]" in a CSV), holds token ids: the dataset is pre-tokenized.
   */
  textColumn?: string;
  /** Label column (default "label", matched case-insensitively). */
  labelColumn?: string;
  /** Class names in index order. String labels map to their position; integer labels must be below its length. */
  labels?: readonly string[];
}

export interface Examples {
  file: string;
  rows: number;
  /** The text of each row, when a text column was used. */
  texts: string[] | null;
  /** Token ids of each row, when the dataset is pre-tokenized. */
  inputIds: Uint32Array[] | null;
  /** Class index of each row. */
  labels: Uint32Array;
  /** Name of each class index: the given labels, the sorted distinct string labels, or "0".."max" for integers. */
  labelNames: string[];
  /** The columns used (as named in the file); textColumn is the input_ids column of a pre-tokenized dataset. */
  textColumn: string;
  labelColumn: string;
}

/** Loads `file` and selects its examples (loadDatasetTable + selectExamples). */
export async function loadExamples(file: string, opts: ExampleOptions = {}): Promise<Examples> {
  return selectExamples(await loadDatasetTable(file), opts);
}

export function selectExamples(data: DatasetTable, opts: ExampleOptions = {}): Examples {
  const { file, table } = data;
  if (table.numRows === 0) throw new UsageError(`${file}: the dataset has no rows`, 'Add at least one example (a text and a label per row).');
  const names = table.schema.fields.map((f) => f.name);
  const where = (row: number) => data.lines ? `${file} line ${data.lines[row]}` : `${file} row ${row}`;
  const column = findColumn(names, opts.textColumn ?? 'text') ?? (opts.textColumn === undefined ? findColumn(names, 'input_ids') : null);
  if (column === null) {
    throw new UsageError(`${file}: no column "${opts.textColumn ?? 'text'}"${opts.textColumn ? '' : ' or "input_ids"'} (columns: ${listSome(names)})`,
      'Name the text column with --text-column NAME.');
  }
  const labelColumn = findColumn(names, opts.labelColumn ?? 'label');
  if (labelColumn === null) {
    throw new UsageError(`${file}: no column "${opts.labelColumn ?? 'label'}" (columns: ${listSome(names)})`, 'Name the label column with --label-column NAME.');
  }
  // A list column, or one named input_ids, holds token ids; any other column holds text.
  const col = table.getChild(column) as Vector;
  const preTokenized = DataType.isList(col.type) || DataType.isFixedSizeList(col.type) || column.toLowerCase() === 'input_ids';
  let texts: string[] | null = null;
  let inputIds: Uint32Array[] | null = null;
  if (preTokenized) {
    inputIds = readIds(col, column, table.numRows, where);
  } else {
    texts = new Array<string>(table.numRows);
    for (let r = 0; r < table.numRows; r++) {
      const v = col.get(r);
      if (v === null || v === undefined) throw new UsageError(`${where(r)}: column "${column}" is empty`, 'Every row needs a text.');
      texts[r] = String(v);
    }
  }
  const { labels, labelNames } = readLabels(table.getChild(labelColumn) as Vector, labelColumn, table.numRows, opts.labels, where);
  return { file, rows: table.numRows, texts, inputIds, labels, labelNames, textColumn: column, labelColumn };
}

/** The column called `want`: exact name first, else the one name equal to it ignoring case. */
function findColumn(names: string[], want: string): string | null {
  if (names.includes(want)) return want;
  const matches = names.filter((n) => n.toLowerCase() === want.toLowerCase());
  if (matches.length > 1) throw new UsageError(`column "${want}" is ambiguous: ${matches.join(', ')}`, 'Give the exact column name.');
  return matches[0] ?? null;
}

function readIds(col: Vector, name: string, rows: number, where: (row: number) => string): Uint32Array[] {
  const out = new Array<Uint32Array>(rows);
  for (let r = 0; r < rows; r++) {
    const v: unknown = col.get(r);
    let ids: unknown[];
    if (typeof v === 'string') {
      const body = v.trim().replace(/^\[|\]$/g, '').trim();
      ids = body === '' ? [] : body.split(/[\s,]+/).map((s) => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s));
    } else if (v !== null && v !== undefined && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function') {
      ids = Array.from(v as Iterable<unknown>);
    } else {
      throw new UsageError(`${where(r)}: column "${name}" must hold a list of token ids, got ${JSON.stringify(v)}`, 'Write input_ids as a list of integers, e.g. [128000, 9906].');
    }
    if (ids.length === 0) throw new UsageError(`${where(r)}: column "${name}" is an empty list`, 'Every row needs at least one token id.');
    const arr = new Uint32Array(ids.length);
    ids.forEach((id, k) => {
      const n = typeof id === 'bigint' ? Number(id) : id;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
        throw new UsageError(`${where(r)}: column "${name}" item ${k} is not a token id: ${String(id)}`, 'Token ids are integers >= 0.');
      }
      arr[k] = n;
    });
    out[r] = arr;
  }
  return out;
}

function readLabels(col: Vector, name: string, rows: number, given: readonly string[] | undefined, where: (row: number) => string):
  { labels: Uint32Array; labelNames: string[] } {
  const raw = new Array<string | number>(rows);
  for (let r = 0; r < rows; r++) {
    const v: unknown = col.get(r);
    if (v === null || v === undefined || v === '') throw new UsageError(`${where(r)}: column "${name}" is empty`, 'Every row needs a label.');
    if (typeof v === 'bigint') raw[r] = Number(v);
    else if (typeof v === 'number' || typeof v === 'string') raw[r] = v;
    else throw new UsageError(`${where(r)}: column "${name}" holds ${JSON.stringify(v)}, not a label`, 'Labels are class names (strings) or class indices (integers).');
  }
  // Text labels that are all integers (CSV has no types) are class indices, unless they are the given class names.
  const allText = raw.every((v) => typeof v === 'string');
  const integerText = allText && raw.every((v) => /^\s*\d+\s*$/.test(v as string));
  const namedByGiven = given !== undefined && raw.every((v) => given.includes(String(v)));
  const numeric = raw.every((v) => typeof v === 'number') || (integerText && !namedByGiven);
  const labels = new Uint32Array(rows);
  if (numeric) {
    let max = 0;
    raw.forEach((v, r) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`${where(r)}: label ${JSON.stringify(v)} in column "${name}" is not a class index`, 'Integer labels must be 0, 1, 2, ...');
      if (given && n >= given.length) {
        throw new UsageError(`${where(r)}: label ${n} in column "${name}" is not below the number of classes (${given.length}: ${given.join(', ')})`,
          'Use class indices 0..N-1, or give more class names.');
      }
      labels[r] = n;
      max = Math.max(max, n);
    });
    return { labels, labelNames: given ? [...given] : Array.from({ length: max + 1 }, (_, k) => String(k)) };
  }
  const texts = raw.map(String);
  const labelNames = given ? [...given] : [...new Set(texts)].sort();
  const index = new Map(labelNames.map((n, k) => [n, k]));
  texts.forEach((t, r) => {
    const k = index.get(t);
    if (k === undefined) {
      throw new UsageError(`${where(r)}: label "${t}" in column "${name}" is not one of the classes (${listSome(labelNames)})`,
        'Fix the label, or list every class with --labels.');
    }
    labels[r] = k;
  });
  return { labels, labelNames };
}
