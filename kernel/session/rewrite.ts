// Turns a cell's source into a script for the session's vm context, REPL-style:
// - the cell runs inside an async function, so top-level `await` works;
// - top-level declarations (const/let/var, function, class) become properties of the context's global object,
//   so later cells see them (and may declare them again);
// - a final expression statement becomes the cell's value: the script resolves to { value } (shown like the REPL);
// - a line that starts with `%name` (after optional indentation) is a line magic: it becomes
//   `await __llmnb_magic("name args")`, so magics run in order with the JavaScript around them (also inside
//   blocks and functions that a later cell calls). A `%` line inside a multi-line string is a magic too.
// Edits keep every line on its line, so stack frames and syntax errors point at the user's line numbers.
import { parse, type Program, type VariableDeclaration } from 'acorn';
import { LlmnbError } from '../errors.js';

/** The name cell scripts call magics through; the session defines it in the context. */
export const MAGIC_CALL = '__llmnb_magic';
/** `%name args` at the start of a line (not `%%`, not `% x` as in a modulo continuation). */
const MAGIC_LINE = /^(\s*)%([A-Za-z_][\w]*.*)$/;

export interface RewrittenCell {
  /** A script whose completion value is a Promise of `{ value }` (final expression) or undefined. */
  code: string;
  /** Script line 1 is the wrapper; pass this as vm's lineOffset so user line 1 is reported as line 1. */
  lineOffset: number;
}

/** A cell that does not parse; the message carries the line and column. */
export class CellSyntaxError extends LlmnbError {
  constructor(message: string, hint: string) {
    super(message, hint);
    this.name = 'SyntaxError';
  }
}

/** True when a cell is a cell magic: its first non-blank line starts with %%. */
export function isCellMagic(source: string): boolean {
  return /^\s*%%/.test(source);
}

export function rewriteCell(source: string, label: string): RewrittenCell {
  const lines = source.split('\n').map((line, i) => {
    if (/^\s*%%/.test(line)) {
      throw new CellSyntaxError(`${label}:${i + 1}: a cell magic (%%) must be the first line of the cell`,
        'Move the %% line to the top of its own cell, or use a line magic (one %).');
    }
    const m = MAGIC_LINE.exec(line);
    if (!m) return line;
    return `${m[1]}await ${MAGIC_CALL}(${JSON.stringify(m[2].trimEnd())});`;
  });
  const js = lines.join('\n');

  let program: Program;
  try {
    program = parse(js, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true, locations: true });
  } catch (e) {
    throw syntaxError(e, label, lines);
  }

  const edits: Edit[] = [];
  const exported: string[] = [];
  for (const stmt of program.body) {
    if (stmt.type === 'VariableDeclaration') edits.push(...declarationEdits(stmt, js));
    else if (stmt.type === 'FunctionDeclaration') exported.push(stmt.id.name);
    else if (stmt.type === 'ClassDeclaration') {
      edits.push({ at: stmt.start, text: `${stmt.id.name} = ` }, { at: stmt.end, text: ';' });
    }
  }
  // The value is the last expression statement's, as in the REPL: function declarations after it have none.
  const last = [...program.body].reverse().find((st) => st.type !== 'FunctionDeclaration' && st.type !== 'EmptyStatement');
  if (last?.type === 'ExpressionStatement') {
    // Statement bounds, not the expression's: `({ a: 1 })` keeps its parentheses.
    const end = js[last.end - 1] === ';' ? last.end - 1 : last.end;
    edits.push({ at: last.start, text: 'return { value: (' }, { at: end, text: ') }' });
  }
  // Function declarations stay where they are (hoisted within the cell); the prologue publishes them.
  const prologue = exported.map((n) => `globalThis[${JSON.stringify(n)}] = ${n};`).join(' ');
  const body = applyEdits(js, edits);
  return { code: `(async () => { ${prologue}\n${body}\n})()`, lineOffset: -1 };
}

interface Edit { at: number; text: string; end?: number }

/** `const a = 1, {b} = o;` -> `void (a = 1, {b} = o);` and `let x;` -> `void (x = void 0);` */
function declarationEdits(decl: VariableDeclaration, js: string): Edit[] {
  const edits: Edit[] = [{ at: decl.start, end: decl.declarations[0].start, text: 'void (' }];
  for (const d of decl.declarations) {
    if (d.init) continue;
    if (d.id.type !== 'Identifier') continue; // a pattern always has an initializer
    const name = d.id.name;
    // `var x;` keeps an existing value, as a redeclaration does; `let x;` starts undefined.
    edits.push({ at: d.id.end, text: decl.kind === 'var' ? ` = globalThis[${JSON.stringify(name)}]` : ' = void 0' });
  }
  const hasSemicolon = js[decl.end - 1] === ';';
  edits.push(hasSemicolon ? { at: decl.end - 1, text: ')' } : { at: decl.end, text: ');' });
  return edits;
}

function applyEdits(js: string, edits: Edit[]): string {
  // Right to left, so earlier offsets stay valid; at the same offset, later-pushed edits go first.
  const sorted = edits.map((e, i) => ({ ...e, i })).sort((a, b) => b.at - a.at || b.i - a.i);
  let out = js;
  for (const e of sorted) out = out.slice(0, e.at) + e.text + out.slice(e.end ?? e.at);
  return out;
}

function syntaxError(e: unknown, label: string, lines: string[]): CellSyntaxError {
  const err = e as { message?: string; loc?: { line: number; column: number } };
  const loc = err.loc;
  const message = (err.message ?? String(e)).replace(/ \(\d+:\d+\)$/, '');
  const where = loc ? `${label}:${loc.line}:${loc.column + 1}` : label;
  let hint = '';
  if (/'import' and 'export' may appear only/.test(message)) {
    hint = "Cells are scripts: use `const m = await import('pkg')` or `const m = require('pkg')` instead of import/export.";
  } else if (loc && lines[loc.line - 1]?.includes(MAGIC_CALL)) {
    hint = 'A magic line runs with await: use it at the top level of the cell or inside async code.';
  }
  return new CellSyntaxError(`${message} (${where})`, hint);
}
