// %help [NAME]: the magics with their summaries, or one magic's usage and flags; generated from the specs.
import { UsageError } from '../errors.js';
import { flagName, positionalName, usageLine, valueHint, type ParamSpec } from './parse.js';
import { defineMagic, type Magic } from './types.js';

export default defineMagic({
  name: 'help',
  summary: 'List the magics, or show one magic\'s flags',
  params: {
    name: { type: 'string', positional: true, summary: 'a magic to explain (with or without %)' },
  },
  run(args, ctx) {
    const magics = ctx.session.magicList();
    if (args.name === undefined) {
      ctx.out.text(helpIndex(magics));
      return;
    }
    const wanted = args.name.replace(/^%+/, '');
    const magic = magics.find((m) => m.name === wanted);
    if (!magic) throw new UsageError(`%help: no magic named %${wanted}`, `Magics: ${magics.map((m) => `%${m.name}`).join(', ')}`);
    ctx.out.text(helpFor(magic));
  },
});

export function helpIndex(magics: readonly Magic[]): string {
  const width = Math.max(...magics.map((m) => prefix(m).length + m.name.length));
  const lines = magics.map((m) => `${(prefix(m) + m.name).padEnd(width)}  ${m.summary}`);
  return [...lines, '', 'Cells are JavaScript with `llmnb`, `model` and `tokenizer` in scope; lines starting with % are magics.',
    '%help NAME shows a magic\'s flags.'].join('\n');
}

export function helpFor(magic: Magic): string {
  const lines = [`usage: ${usageLine(prefix(magic) + magic.name, magic.params)}`, '', magic.summary];
  if (magic.details) lines.push('', magic.details);
  const params = Object.entries(magic.params);
  if (params.length) {
    const rows = params.map(([key, p]) => [p.positional ? positionalName(key) : `${flagName(key)} ${valueHint(p)}`.trimEnd(), describe(p)]);
    const width = Math.max(...rows.map((r) => r[0].length));
    lines.push('', ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`));
  }
  return lines.join('\n');
}

function prefix(m: Magic): string {
  return m.form === 'cell' ? '%%' : '%';
}

function describe(p: ParamSpec): string {
  const notes: string[] = [];
  if (p.required) notes.push('required');
  if (p.default !== undefined && p.type !== 'bool') notes.push(`default ${Array.isArray(p.default) ? p.default.join(',') : String(p.default)}`);
  return notes.length ? `${p.summary} (${notes.join('; ')})` : p.summary;
}
