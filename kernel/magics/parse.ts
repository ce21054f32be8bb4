// Magic argument parsing: a shell-like tokenizer and a strict parser driven by a declarative spec, so that every
// magic rejects an unknown flag or a bad value with a UsageError that names the flag and lists the valid ones,
// and so that `%help` can print each magic's flags from the same spec.
//
// Tokens: split on whitespace. 'single quotes' keep their text as is; "double quotes" understand \" \\ \n \t.
// Outside quotes a backslash is an ordinary character (Windows paths work). `--` ends the flags.
// Flags: `--name value` or `--name=value`; a bool flag takes no value (`--empty`), or `--empty=false`, or `--no-empty`.
import os from 'node:os';
import path from 'node:path';
import { parseBytes } from '../gpu/format.js';
import { UsageError } from '../errors.js';

export interface Token { text: string; quoted: boolean }

export function tokenize(line: string, command = 'magic'): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    let text = '';
    let quoted = false;
    while (i < line.length && !/\s/.test(line[i])) {
      const c = line[i];
      if (c === "'" || c === '"') {
        quoted = true;
        const end = c === "'" ? line.indexOf("'", i + 1) : closingDoubleQuote(line, i + 1);
        if (end < 0) throw new UsageError(`${command}: unterminated ${c === "'" ? 'single' : 'double'} quote`, `Close the quote that starts at column ${i + 1}.`);
        const inner = line.slice(i + 1, end);
        text += c === "'" ? inner : unescapeDouble(inner);
        i = end + 1;
      } else {
        text += c;
        i++;
      }
    }
    tokens.push({ text, quoted });
  }
  return tokens;
}

function closingDoubleQuote(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '"') return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\(["\\nt])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

// ---- specs ----

interface ParamBase {
  /** One line for %help. */
  summary: string;
  /** Taken from the arguments without a flag, in declaration order. */
  positional?: boolean;
  required?: boolean;
}
export interface IntParam extends ParamBase { type: 'int'; default?: number; min?: number; max?: number }
export interface FloatParam extends ParamBase { type: 'float'; default?: number; min?: number; max?: number }
export interface StringParam extends ParamBase { type: 'string'; default?: string }
/** A file or folder; relative paths resolve against the notebook's folder, `~` against the home folder. */
export interface PathParam extends ParamBase { type: 'path'; default?: string }
export interface BoolParam extends ParamBase { type: 'bool'; default?: boolean }
export interface EnumParam extends ParamBase { type: 'enum'; values: readonly string[]; default?: string }
/** A size such as 24GiB, 512MiB, 1.5G or 1000000 (bytes). */
export interface BytesParam extends ParamBase { type: 'bytes'; default?: number }
/** Comma-separated values (`--layers 0,1,2`); a positional list takes all remaining arguments. */
export interface ListParam extends ParamBase { type: 'list'; of: 'int' | 'float' | 'string'; default?: readonly (number | string)[] }

export type ParamSpec = IntParam | FloatParam | StringParam | PathParam | BoolParam | EnumParam | BytesParam | ListParam;
export type ParamsSpec = Readonly<Record<string, ParamSpec>>;

type ValueOf<P> =
  P extends { type: 'int' | 'float' | 'bytes' } ? number
    : P extends { type: 'bool' } ? boolean
      : P extends { type: 'enum'; values: readonly (infer V)[] } ? V
        : P extends { type: 'list'; of: 'string' } ? string[]
          : P extends { type: 'list' } ? number[]
            : string;
type AlwaysSet<P> = P extends { default: unknown } | { required: true } | { type: 'bool' } ? true : false;

/** The parsed arguments of a spec: keys as declared (camelCase), optional unless required, defaulted or bool. */
export type ParsedArgs<S extends ParamsSpec> =
  { -readonly [K in keyof S as AlwaysSet<S[K]> extends true ? K : never]: ValueOf<S[K]> } &
  { -readonly [K in keyof S as AlwaysSet<S[K]> extends true ? never : K]?: ValueOf<S[K]> };

/** `memoryLimit` -> `--memory-limit`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `maxTokens` as a positional argument in usage lines: `MAX_TOKENS`. */
export function positionalName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** What a value looks like, for usage lines: INT, bf16|f32, SIZE, ... */
export function valueHint(p: ParamSpec): string {
  switch (p.type) {
    case 'int': return 'INT';
    case 'float': return 'NUMBER';
    case 'string': return 'TEXT';
    case 'path': return 'PATH';
    case 'bool': return '';
    case 'enum': return p.values.join('|');
    case 'bytes': return 'SIZE';
    case 'list': return `${p.of === 'string' ? 'TEXT' : p.of === 'int' ? 'INT' : 'NUMBER'},...`;
  }
}

/** `%load_model PATH [--dtype bf16|f32] [--empty]` */
export function usageLine(command: string, spec: ParamsSpec): string {
  const parts = [command];
  for (const [key, p] of Object.entries(spec)) {
    const shown = p.positional ? positionalName(key) + (p.type === 'list' ? '...' : '')
      : p.type === 'bool' ? (p.default === true ? `${flagName(key)}|--no-${flagName(key).slice(2)}` : flagName(key)) : `${flagName(key)} ${valueHint(p)}`;
    parts.push(p.required ? shown : `[${shown}]`);
  }
  return parts.join(' ');
}

export interface ParseOptions {
  /** Shown in errors: '%device', 'llmnb run'. */
  command: string;
  /** Folder that relative paths resolve against. */
  cwd: string;
}

/** Parses `tokens` against `spec`. Throws UsageError naming the flag and listing the valid ones. */
export function parseArgs<S extends ParamsSpec>(spec: S, tokens: readonly Token[], opts: ParseOptions): ParsedArgs<S> {
  const { command } = opts;
  const usage = `usage: ${usageLine(command, spec)}`;
  const entries = Object.entries(spec);
  const byFlag = new Map(entries.filter(([, p]) => !p.positional).map(([k, p]) => [flagName(k), [k, p] as const]));
  const positional = entries.filter(([, p]) => p.positional);
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const rest: string[] = [];
  let flagsDone = false;

  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (flagsDone || tok.quoted || !tok.text.startsWith('--')) { rest.push(tok.text); continue; }
    if (tok.text === '--') { flagsDone = true; continue; }
    const eq = tok.text.indexOf('=');
    const name = eq < 0 ? tok.text : tok.text.slice(0, eq);
    // `--no-NAME` turns off a bool flag (useful when it defaults to true, e.g. --bias).
    const negated = name.startsWith('--no-') && !byFlag.has(name) && byFlag.get(`--${name.slice(5)}`)?.[1].type === 'bool';
    const found = byFlag.get(negated ? `--${name.slice(5)}` : name);
    if (!found) {
      const valid = [...byFlag.keys()];
      const near = closest(name, valid);
      throw new UsageError(`${command}: unknown flag ${name}${near ? ` (did you mean ${near}?)` : ''}`,
        valid.length ? `Valid flags: ${valid.join(', ')}. ${usage}` : `${command} takes no flags. ${usage}`);
    }
    const [key, p] = found;
    if (seen.has(key)) throw new UsageError(`${command}: ${name} given twice`, usage);
    seen.add(key);
    let raw: string;
    if (negated) {
      if (eq >= 0) throw new UsageError(`${command}: ${name} takes no value`, usage);
      raw = 'false';
    } else if (eq >= 0) raw = tok.text.slice(eq + 1);
    else if (p.type === 'bool') raw = 'true';
    else {
      if (i + 1 >= tokens.length) throw new UsageError(`${command}: ${name} needs a value (${describeType(p)})`, usage);
      raw = tokens[++i].text;
    }
    out[key] = convert(raw, p, name, opts, usage);
  }

  let r = 0;
  for (const [key, p] of positional) {
    const label = positionalName(key);
    if (p.type === 'list') {
      if (r < rest.length) out[key] = rest.slice(r).map((v) => convertScalar(v, p.of, p, label, opts, usage));
      r = rest.length;
    } else if (r < rest.length) {
      out[key] = convert(rest[r++], p, label, opts, usage);
    }
  }
  if (r < rest.length) {
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(rest[r])}`,
      rest[r].startsWith('-') ? `Flags start with two dashes. ${usage}` : usage);
  }
  for (const [key, p] of entries) {
    if (out[key] !== undefined) continue;
    if (p.required) {
      const what = p.positional ? positionalName(key) : flagName(key);
      throw new UsageError(`${command}: missing ${what} (${p.summary})`, usage);
    }
    if (p.default !== undefined) out[key] = p.type === 'path' ? resolvePath(p.default, opts.cwd) : p.default;
    else if (p.type === 'bool') out[key] = false;
  }
  return out as ParsedArgs<S>;
}

export function resolvePath(p: string, cwd: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(cwd, p);
}

function describeType(p: ParamSpec): string {
  switch (p.type) {
    case 'int': return `an integer${range(p)}`;
    case 'float': return `a number${range(p)}`;
    case 'string': return 'text';
    case 'path': return 'a file or folder path';
    case 'bool': return 'true or false';
    case 'enum': return `one of ${p.values.join(', ')}`;
    case 'bytes': return 'a size like 24GiB, 512MiB or a number of bytes';
    case 'list': return `comma-separated ${p.of === 'string' ? 'values' : p.of === 'int' ? 'integers' : 'numbers'}`;
  }
}

function range(p: IntParam | FloatParam): string {
  if (p.min !== undefined && p.max !== undefined) return ` from ${p.min} to ${p.max}`;
  if (p.min !== undefined) return ` >= ${p.min}`;
  if (p.max !== undefined) return ` <= ${p.max}`;
  return '';
}

function convert(raw: string, p: ParamSpec, name: string, opts: ParseOptions, usage: string): unknown {
  const bad = () => new UsageError(`${opts.command}: ${name} must be ${describeType(p)}, got ${JSON.stringify(raw)}`, usage);
  switch (p.type) {
    case 'bool':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw bad();
    case 'enum':
      if (p.values.includes(raw)) return raw;
      throw bad();
    case 'bytes': {
      const n = parseBytes(raw);
      if (!Number.isFinite(n) || n < 0) throw bad();
      return n;
    }
    case 'path':
      if (raw === '') throw bad();
      return resolvePath(raw, opts.cwd);
    case 'list':
      if (raw === '') return [];
      return raw.split(',').map((v) => convertScalar(v.trim(), p.of, p, name, opts, usage));
    default:
      return convertScalar(raw, p.type, p, name, opts, usage);
  }
}

function convertScalar(raw: string, type: 'int' | 'float' | 'string', p: ParamSpec, name: string, opts: ParseOptions, usage: string): number | string {
  if (type === 'string') return raw;
  const bad = () => new UsageError(`${opts.command}: ${name} must be ${describeType(p)}, got ${JSON.stringify(raw)}`, usage);
  const n = type === 'int' ? (/^[+-]?\d+$/.test(raw) ? Number(raw) : NaN) : (raw.trim() === '' ? NaN : Number(raw));
  if (!Number.isFinite(n) || (type === 'int' && !Number.isSafeInteger(n))) throw bad();
  if ((p.type === 'int' || p.type === 'float') && ((p.min !== undefined && n < p.min) || (p.max !== undefined && n > p.max))) throw bad();
  return n;
}

/** The valid name nearest to `name` by edit distance, if it is plausibly a typo. */
function closest(name: string, valid: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const v of valid) {
    const d = editDistance(name, v);
    if (d < bestD) { bestD = d; best = v; }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
