// The cell grammar (syntaxes/llmnb.tmLanguage.json), tokenized with the TextMate engine and JavaScript grammar
// that this VS Code ships: magics, flags and values get their scopes, everything else is JavaScript.
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './helpers.js';

interface Token { text: string; scopes: string[] }
type Tokenize = (source: string) => Token[];

// The engine's types are VS Code internals; these are the few members used here.
interface TextMate {
  Registry: new (options: { onigLib: Promise<unknown>; loadGrammar(scope: string): Promise<unknown> }) => {
    loadGrammar(scope: string): Promise<{ tokenizeLine(line: string, state: unknown): { tokens: { startIndex: number; endIndex: number; scopes: string[] }[]; ruleStack: unknown } } | null>;
  };
  INITIAL: unknown;
  parseRawGrammar(content: string, filePath: string): unknown;
}
interface Oniguruma {
  loadWASM(data: ArrayBuffer): Promise<void>;
  OnigScanner: new (patterns: string[]) => unknown;
  OnigString: new (text: string) => unknown;
}

async function cellTokenizer(): Promise<Tokenize> {
  const appRoot = vscode.env.appRoot;
  const req = createRequire(path.join(appRoot, 'package.json'));
  const tm = req('vscode-textmate') as TextMate;
  const onig = req('vscode-oniguruma') as Oniguruma;
  const wasm = fs.readFileSync(req.resolve('vscode-oniguruma/release/onig.wasm'));
  await onig.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext);
  const files: Record<string, string> = {
    'source.llmnb': path.join(ext.extensionPath, 'syntaxes', 'llmnb.tmLanguage.json'),
    'source.js': path.join(appRoot, 'extensions', 'javascript', 'syntaxes', 'JavaScript.tmLanguage.json'),
  };
  const registry = new tm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new onig.OnigScanner(patterns),
      createOnigString: (text: string) => new onig.OnigString(text),
    }),
    loadGrammar: async (scope) => (files[scope] ? tm.parseRawGrammar(fs.readFileSync(files[scope], 'utf8'), files[scope]) : null),
  });
  const grammar = await registry.loadGrammar('source.llmnb');
  assert.ok(grammar);
  return (source) => {
    let state = tm.INITIAL;
    const tokens: Token[] = [];
    for (const line of source.split('\n')) {
      const r = grammar.tokenizeLine(line, state);
      for (const t of r.tokens) tokens.push({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
      state = r.ruleStack;
    }
    return tokens;
  };
}

/** The most specific scope of the token whose text is `text`. */
function scopeOf(tokens: Token[], text: string): string {
  const t = tokens.find((x) => x.text === text);
  assert.ok(t, `no token "${text}" in ${JSON.stringify(tokens.map((x) => x.text))}`);
  return t.scopes[t.scopes.length - 1];
}

suite('llmnb cell grammar', () => {
  let tokenize: Tokenize;
  suiteSetup(async () => { tokenize = await cellTokenizer(); });

  test('line magics: name, flags, numbers, sizes, strings and words', () => {
    const t = tokenize('%load_model ./model --dtype bf16 --seed 3 --memory-limit 24GiB --name "my model" --empty=false');
    assert.equal(scopeOf(t, '%'), 'punctuation.definition.magic.llmnb');
    assert.equal(scopeOf(t, 'load_model'), 'entity.name.function.magic.llmnb');
    assert.equal(scopeOf(t, './model'), 'string.unquoted.value.llmnb');
    assert.equal(scopeOf(t, '--dtype'), 'variable.parameter.flag.llmnb');
    assert.equal(scopeOf(t, 'bf16'), 'string.unquoted.value.llmnb');
    assert.equal(scopeOf(t, '3'), 'constant.numeric.size.llmnb');
    assert.equal(scopeOf(t, '24GiB'), 'constant.numeric.size.llmnb');
    assert.equal(scopeOf(t, 'my model'), 'string.quoted.double.llmnb');
    assert.equal(scopeOf(t, 'false'), 'constant.language.boolean.llmnb');
  });

  test('JavaScript lines are JavaScript; a cell magic is recognised on the first line only', () => {
    const t = tokenize("const x = await model.forward(ids)\n  %tensors 'layers.0.*'\nx % 2");
    assert.match(scopeOf(t, 'const'), /^storage\.type.*\.js$/);
    assert.match(scopeOf(t, 'await'), /\.js$/);
    assert.equal(scopeOf(t, 'tensors'), 'entity.name.function.magic.llmnb');
    assert.equal(scopeOf(t, 'layers.0.*'), 'string.quoted.single.llmnb');
    assert.ok(!t.some((x) => x.text === '2' && x.scopes.some((s) => s.startsWith('meta.magic'))), 'a modulo is not a magic');
    const cell = tokenize('%%train --lr 1e-4\n%%notmagic');
    assert.equal(scopeOf(cell, '%%'), 'punctuation.definition.magic.llmnb');
    assert.equal(scopeOf(cell, '1e-4'), 'constant.numeric.size.llmnb');
    assert.ok(!cell.some((x) => x.text === 'notmagic' && x.scopes.some((s) => s.startsWith('entity.name.function.magic'))));
  });
});
