// The .llmnb file format, version 1: UTF-8 JSON, 2-space indent, trailing newline, keys in a fixed order.
//
//   { "llmnb": 1, "metadata": {...}, "cells": [
//       { "kind": "markdown", "source": "# Title" },
//       { "kind": "code", "source": "%device", "execution": { "order": 1, "success": true, "durationMs": 812 },
//         "outputs": [ { "items": [ { "mime": "text/plain", "data": "..." } ] } ] } ] }
//
// Parsing is strict: every key is known and every value has its type, so that nothing this module accepts is
// lost when it writes the notebook back. The canonical form (what `serializeNotebook` writes) leaves out empty
// optional containers (outputs [], execution {}, cell and output metadata {}) and the default cell language;
// a canonical file round-trips to identical bytes. Each output item's encoding follows from its mime and bytes
// (`itemFromBytes`): UTF-8 text for textual mimes, base64 with "encoding": "base64" otherwise, so that an item
// also round-trips through VS Code, which keeps only the bytes. Every output has a text/plain item, so that a
// notebook reads well in a terminal and in diffs. Plain TypeScript: the VS Code serializer, the kernel and
// `llmnb run` all use it.
import { LlmnbError } from '../errors.js';

export const FORMAT_VERSION = 1;
/** The language of code cells unless a cell says otherwise. */
export const CELL_LANGUAGE = 'llmnb';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject { [key: string]: JsonValue }

export interface NotebookFile {
  llmnb: typeof FORMAT_VERSION;
  metadata: JsonObject;
  cells: NotebookCell[];
}

export type NotebookCell = MarkdownCell | CodeCell;

export interface MarkdownCell {
  kind: 'markdown';
  source: string;
  metadata?: JsonObject;
}

export interface CodeCell {
  kind: 'code';
  source: string;
  /** Present only when the cell is not in the default cell language (`llmnb`). */
  language?: string;
  metadata?: JsonObject;
  execution?: CellExecution;
  outputs?: CellOutput[];
}

export interface CellExecution {
  /** Execution counter shown next to the cell, from 1. */
  order?: number;
  success?: boolean;
  durationMs?: number;
}

export interface CellOutput {
  items: OutputItem[];
  metadata?: JsonObject;
}

export interface OutputItem {
  mime: string;
  /** The text itself, or base64 when `encoding` is "base64". */
  data: string;
  encoding?: 'base64';
}

/** The file cannot be read as an .llmnb notebook (bad JSON, unknown version, wrong types, unknown keys). */
export class NotebookFormatError extends LlmnbError {
  constructor(detail: string, hint = 'Fix the file in a text editor (it is JSON) or restore it from version control.') {
    super(detail, hint);
  }
}

export function emptyNotebook(): NotebookFile {
  return { llmnb: FORMAT_VERSION, metadata: {}, cells: [] };
}

/**
 * Reads a notebook. An empty (or whitespace-only) file is an empty notebook: that is what a new file holds.
 * Throws NotebookFormatError, naming the file and the offending path, for anything else that is not a valid v1 file.
 */
export function parseNotebook(content: Uint8Array | string, file = 'notebook'): NotebookFile {
  let text: string;
  try {
    text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new NotebookFormatError(`${file}: not valid UTF-8 text`);
  }
  if (text.trim() === '') return emptyNotebook();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new NotebookFormatError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return readNotebook(raw, file);
}

/** Writes the canonical bytes: the same notebook always gives the same text. */
export function serializeNotebook(nb: NotebookFile): string {
  readNotebook(nb, 'notebook'); // never write what could not be read back
  return `${JSON.stringify(canonical(nb), null, 2)}\n`;
}

export function encodeNotebook(nb: NotebookFile): Uint8Array {
  return new TextEncoder().encode(serializeNotebook(nb));
}

// ---- output items ----

export function textItem(mime: string, text: string): OutputItem {
  return { mime, data: text };
}

export function binaryItem(mime: string, bytes: Uint8Array): OutputItem {
  return { mime, data: bytesToBase64(bytes), encoding: 'base64' };
}

export function itemBytes(item: OutputItem): Uint8Array {
  return item.encoding === 'base64' ? base64ToBytes(item.data) : new TextEncoder().encode(item.data);
}

/** The text/plain rendering of an output ('' when it has none). */
export function outputText(output: CellOutput): string {
  const item = output.items.find((i) => i.mime === 'text/plain');
  return item ? new TextDecoder().decode(itemBytes(item)) : '';
}

/** Mime types whose data is stored as text when it is valid UTF-8. */
export function isTextMime(mime: string): boolean {
  return mime.startsWith('text/') || mime === 'application/json' || mime.endsWith('+json') ||
    mime === 'image/svg+xml' || mime.startsWith('application/vnd.code.notebook.');
}

/** An item for `bytes` of `mime`: text when the mime is textual and the bytes are UTF-8, else base64. */
export function itemFromBytes(mime: string, bytes: Uint8Array): OutputItem {
  if (isTextMime(mime)) {
    try {
      return textItem(mime, new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
    } catch { /* not UTF-8: keep the bytes as they are */ }
  }
  return binaryItem(mime, bytes);
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function base64ToBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

// ---- validation ----

const NOTEBOOK_KEYS = ['llmnb', 'metadata', 'cells'];
const MARKDOWN_KEYS = ['kind', 'source', 'metadata'];
const CODE_KEYS = ['kind', 'source', 'language', 'metadata', 'execution', 'outputs'];
const EXECUTION_KEYS = ['order', 'success', 'durationMs'];
const OUTPUT_KEYS = ['items', 'metadata'];
const ITEM_KEYS = ['mime', 'data', 'encoding'];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function readNotebook(raw: unknown, file: string): NotebookFile {
  const at = (path: string, detail: string) => new NotebookFormatError(`${file}: ${path} ${detail}`);
  const obj = object(raw, 'the top level', at);
  if (!('llmnb' in obj)) {
    throw new NotebookFormatError(`${file}: not an llmnb notebook (no "llmnb" version key)`,
      'Open a file written by llmnb, or start from a new .llmnb file.');
  }
  if (obj.llmnb !== FORMAT_VERSION) {
    const newer = typeof obj.llmnb === 'number' && obj.llmnb > FORMAT_VERSION;
    throw new NotebookFormatError(`${file}: llmnb format version ${JSON.stringify(obj.llmnb)} is not supported (this llmnb reads version ${FORMAT_VERSION})`,
      newer ? 'Update the llmnb extension to open this notebook.' : 'The version key is damaged; it should be "llmnb": 1.');
  }
  onlyKeys(obj, NOTEBOOK_KEYS, 'the top level', at);
  const metadata = jsonObject(obj.metadata, 'metadata', at);
  if (!Array.isArray(obj.cells)) throw at('cells', 'must be an array');
  const cells = obj.cells.map((c, i) => readCell(c, `cells[${i}]`, at));
  return { llmnb: FORMAT_VERSION, metadata, cells };
}

type At = (path: string, detail: string) => NotebookFormatError;

function readCell(raw: unknown, path: string, at: At): NotebookCell {
  const c = object(raw, path, at);
  const source = string(c.source, `${path}.source`, at);
  if (c.kind === 'markdown') {
    onlyKeys(c, MARKDOWN_KEYS, path, at);
    const cell: MarkdownCell = { kind: 'markdown', source };
    const metadata = optionalObject(c.metadata, `${path}.metadata`, at);
    if (metadata) cell.metadata = metadata;
    return cell;
  }
  if (c.kind !== 'code') throw at(`${path}.kind`, `must be "code" or "markdown", got ${JSON.stringify(c.kind)}`);
  onlyKeys(c, CODE_KEYS, path, at);
  const cell: CodeCell = { kind: 'code', source };
  if (c.language !== undefined) {
    const language = string(c.language, `${path}.language`, at);
    if (language !== CELL_LANGUAGE) cell.language = language;
  }
  const metadata = optionalObject(c.metadata, `${path}.metadata`, at);
  if (metadata) cell.metadata = metadata;
  if (c.execution !== undefined) {
    const execution = readExecution(c.execution, `${path}.execution`, at);
    if (Object.keys(execution).length) cell.execution = execution;
  }
  if (c.outputs !== undefined) {
    if (!Array.isArray(c.outputs)) throw at(`${path}.outputs`, 'must be an array');
    if (c.outputs.length) cell.outputs = c.outputs.map((o, i) => readOutput(o, `${path}.outputs[${i}]`, at));
  }
  return cell;
}

function readExecution(raw: unknown, path: string, at: At): CellExecution {
  const e = object(raw, path, at);
  onlyKeys(e, EXECUTION_KEYS, path, at);
  const out: CellExecution = {};
  if (e.order !== undefined) {
    if (!Number.isSafeInteger(e.order) || (e.order as number) < 0) throw at(`${path}.order`, 'must be a non-negative integer');
    out.order = e.order as number;
  }
  if (e.success !== undefined) {
    if (typeof e.success !== 'boolean') throw at(`${path}.success`, 'must be true or false');
    out.success = e.success;
  }
  if (e.durationMs !== undefined) {
    if (typeof e.durationMs !== 'number' || !Number.isFinite(e.durationMs) || e.durationMs < 0) {
      throw at(`${path}.durationMs`, 'must be a non-negative number');
    }
    out.durationMs = e.durationMs;
  }
  return out;
}

function readOutput(raw: unknown, path: string, at: At): CellOutput {
  const o = object(raw, path, at);
  onlyKeys(o, OUTPUT_KEYS, path, at);
  if (!Array.isArray(o.items)) throw at(`${path}.items`, 'must be an array');
  const items = o.items.map((it, i) => readItem(it, `${path}.items[${i}]`, at));
  if (!items.some((i) => i.mime === 'text/plain')) throw at(path, 'has no text/plain item (every output needs one)');
  const out: CellOutput = { items };
  const metadata = optionalObject(o.metadata, `${path}.metadata`, at);
  if (metadata) out.metadata = metadata;
  return out;
}

function readItem(raw: unknown, path: string, at: At): OutputItem {
  const it = object(raw, path, at);
  onlyKeys(it, ITEM_KEYS, path, at);
  const mime = string(it.mime, `${path}.mime`, at);
  if (!/^[\w.+-]+\/[\w.+-]+$/.test(mime)) throw at(`${path}.mime`, `is not a mime type: ${JSON.stringify(mime)}`);
  const data = string(it.data, `${path}.data`, at);
  if (it.encoding !== undefined && it.encoding !== 'base64') {
    throw at(`${path}.encoding`, `must be "base64" when present, got ${JSON.stringify(it.encoding)}`);
  }
  const item: OutputItem = it.encoding ? { mime, data, encoding: 'base64' } : { mime, data };
  // Decoders skip characters they do not know; accepting them would lose them on the next save.
  if (item.encoding && (!BASE64.test(data) || bytesToBase64(base64ToBytes(data)) !== data)) throw at(`${path}.data`, 'is not canonical base64');
  if (!item.encoding && new TextDecoder().decode(new TextEncoder().encode(data)) !== data) {
    throw at(`${path}.data`, 'holds text that is not valid Unicode (a lone surrogate)');
  }
  const expected = itemFromBytes(mime, itemBytes(item));
  if (expected.encoding !== item.encoding) {
    throw at(`${path}.encoding`, expected.encoding
      ? `must be "base64": ${mime} is binary data`
      : `must be absent: ${mime} data that is UTF-8 text is stored as text`);
  }
  return item;
}

function object(raw: unknown, path: string, at: At): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw at(path, 'must be an object');
  return raw as Record<string, unknown>;
}

function jsonObject(raw: unknown, path: string, at: At): JsonObject {
  return object(raw, path, at) as JsonObject;
}

/** An optional metadata object; an empty one is the same as none. */
function optionalObject(raw: unknown, path: string, at: At): JsonObject | undefined {
  if (raw === undefined) return undefined;
  const obj = jsonObject(raw, path, at);
  return Object.keys(obj).length ? obj : undefined;
}

function string(raw: unknown, path: string, at: At): string {
  if (typeof raw !== 'string') throw at(path, `must be a string${raw === undefined ? ' (missing)' : ''}`);
  return raw;
}

function onlyKeys(obj: Record<string, unknown>, allowed: string[], path: string, at: At): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw at(path, `has an unknown key ${JSON.stringify(k)} (known: ${allowed.join(', ')})`);
  }
}

// ---- canonical key order ----

function canonical(nb: NotebookFile): JsonObject {
  return { llmnb: nb.llmnb, metadata: nb.metadata, cells: nb.cells.map(canonicalCell) };
}

function canonicalCell(c: NotebookCell): JsonObject {
  const out: JsonObject = { kind: c.kind, source: c.source };
  if (c.kind === 'code' && c.language !== undefined && c.language !== CELL_LANGUAGE) out.language = c.language;
  if (c.metadata && Object.keys(c.metadata).length) out.metadata = c.metadata;
  if (c.kind === 'code') {
    const e: JsonObject = {};
    if (c.execution?.order !== undefined) e.order = c.execution.order;
    if (c.execution?.success !== undefined) e.success = c.execution.success;
    if (c.execution?.durationMs !== undefined) e.durationMs = c.execution.durationMs;
    if (Object.keys(e).length) out.execution = e;
    if (c.outputs?.length) {
      out.outputs = c.outputs.map((o) => {
        const oo: JsonObject = {
          items: o.items.map((i): JsonObject => (i.encoding ? { mime: i.mime, data: i.data, encoding: i.encoding } : { mime: i.mime, data: i.data })),
        };
        if (o.metadata && Object.keys(o.metadata).length) oo.metadata = o.metadata;
        return oo;
      });
    }
  }
  return out;
}
