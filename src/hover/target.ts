// What a hover in a cell asks the kernel about (no `vscode` here, so it is unit-tested in Node):
// - in JavaScript, the member chain that ends at the hovered name: hovering `mlp` in
//   `model.layers[31].mlp.down_proj.weight` asks for `model.layers[31].mlp`, hovering `weight` for all of it; a chain
//   that passes through a call (`f().x`) asks nothing, since the kernel never runs code for a hover;
// - a parameter name or glob in a magic line (`%tensors model.layers.0.*`) or in a string ('model.norm.weight').

export interface HoverTarget {
  /** What the kernel resolves. */
  text: string;
  kind: 'expression' | 'tensor-name';
  /** The hovered range on the line: [start, end). */
  start: number;
  end: number;
}

/** Parameter names and globs: dotted words, `*` and `?` (`model.layers.0.*`, `trf_blocks.0.att.W_query.weight`). */
const TENSOR_NAME = /^(?=.*[A-Za-z])(?=.*[.*?])[\w.*?]+$/;
const IDENT_CHAR = /[\w$]/;
const IDENT_START = /[A-Za-z_$]/;

export function hoverTarget(line: string, col: number): HoverTarget | null {
  if (/^\s*%/.test(line)) return magicToken(line, col);
  const lexed = lexLine(line);
  const inString = lexed.strings.find((s) => col >= s.start && col < s.end);
  if (inString) {
    const content = line.slice(inString.start + 1, inString.end - 1);
    return TENSOR_NAME.test(content) ? { text: content, kind: 'tensor-name', start: inString.start, end: inString.end } : null;
  }
  if (lexed.commentStart !== null && col >= lexed.commentStart) return null;
  return memberChain(line, col);
}

/** A whitespace-separated token of a magic line (quotes removed) that looks like a parameter name or glob. */
function magicToken(line: string, col: number): HoverTarget | null {
  for (const m of line.matchAll(/"[^"]*"|'[^']*'|\S+/g)) {
    const start = m.index ?? 0;
    const end = start + m[0].length;
    if (col < start || col >= end) continue;
    const text = /^["']/.test(m[0]) ? m[0].slice(1, -1) : m[0];
    return TENSOR_NAME.test(text) && !text.startsWith('-') ? { text, kind: 'tensor-name', start, end } : null;
  }
  return null;
}

/** String literals (quotes included) and where a // comment starts, on one line. Template literals with `${` count
 *  as strings too (a hover inside one asks nothing unless the whole literal is a name). */
function lexLine(line: string): { strings: { start: number; end: number }[]; commentStart: number | null } {
  const strings: { start: number; end: number }[] = [];
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '/' && line[i + 1] === '/') return { strings, commentStart: i };
    if (c !== '"' && c !== "'" && c !== '`') continue;
    let j = i + 1;
    while (j < line.length && line[j] !== c) j += line[j] === '\\' ? 2 : 1;
    strings.push({ start: i, end: Math.min(j + 1, line.length) });
    i = j;
  }
  return { strings, commentStart: null };
}

function memberChain(line: string, col: number): HoverTarget | null {
  // The end of the hovered segment: after the identifier, or after the `]` of a hovered `[31]`.
  let end: number;
  if (IDENT_CHAR.test(line[col] ?? '')) {
    let a = col;
    end = col;
    while (a > 0 && IDENT_CHAR.test(line[a - 1])) a--;
    while (end < line.length && IDENT_CHAR.test(line[end])) end++;
    if (!IDENT_START.test(line[a])) {
      if (line[a - 1] !== '[' || line[end] !== ']') return null; // a number, not an index
      end++;
    }
  } else if (line[col] === ']') {
    end = col + 1;
  } else {
    return null;
  }
  // Walk left over segments: `[literal]`, `name`, each after `.` or `?.`, to the name that starts the chain.
  let pos = end;
  for (;;) {
    if (line[pos - 1] === ']') {
      const open = line.lastIndexOf('[', pos - 1);
      if (open < 0 || !isLiteral(line.slice(open + 1, pos - 1))) return null;
      pos = line.slice(open - 2, open) === '?.' ? open - 2 : open;
      continue;
    }
    if (!IDENT_CHAR.test(line[pos - 1] ?? '')) return null; // `f().x`, `(a).x`, `'s'.length`, `[1][0]`
    while (pos > 0 && IDENT_CHAR.test(line[pos - 1])) pos--;
    if (!IDENT_START.test(line[pos])) return null;
    if (line[pos - 1] !== '.') break;
    pos = line.slice(pos - 2, pos) === '?.' ? pos - 2 : pos - 1;
  }
  const text = line.slice(pos, end).replace(/\?\.\[/g, '[').replace(/\?\./g, '.');
  return { text, kind: 'expression', start: pos, end };
}

/** A number or a quoted string without quotes inside: `31`, `'weight'`. */
function isLiteral(s: string): boolean {
  return /^\s*(\d+|'[^'\\]*'|"[^"\\]*")\s*$/.test(s);
}
