// Hovers in llmnb cells, through VS Code's hover machinery (vscode.executeHoverProvider), answered by the kernel
// that holds the reference model: a parameter's dtype, shape, bytes, kind and residency; a replaced head in the
// model's dtype; parameter names in magic lines; nothing without a kernel; answers while a cell runs.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { appendCell, cellText, executeCell, finished, mimes, openNotebook, runCell, waitFor } from './helpers.js';

/** The text of the hovers at `column` of the first line of cell `index`. */
async function hoverAt(nb: vscode.NotebookDocument, index: number, column: number): Promise<string> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', nb.cellAt(index).document.uri, new vscode.Position(0, column));
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
}

/** Appends an unrun cell holding `source` and hovers the first occurrence of `hovered` in it. */
async function hover(nb: vscode.NotebookDocument, source: string, hovered: string): Promise<string> {
  const index = await appendCell(nb, source);
  return hoverAt(nb, index, source.indexOf(hovered));
}

suite('hovers', () => {
  let nb: vscode.NotebookDocument;

  suiteSetup(async () => {
    nb = await openNotebook('hover.llmnb');
  });

  test('no kernel, no hover', async () => {
    assert.equal(await hover(nb, 'model.layers[0].self_attn.q_proj.weight', 'weight'), '');
  });

  test('a parameter of the reference model: bf16, [64, 64], 8 KiB (8192 bytes), weights of block.0, frozen, on the GPU', async () => {
    const load = await runCell(nb, '%load_model reference/model_bf16.safetensors');
    assert.equal(load.executionSummary?.success, true, cellText(load));
    const text = await hover(nb, 'const q = model.layers[0].self_attn.q_proj.weight', 'weight');
    assert.match(text, /Parameter `model\.layers\.0\.self_attn\.q_proj\.weight`/);
    assert.match(text, /bf16 · \[64, 64\] · 8 KiB \(8192 bytes\)/);
    assert.match(text, /weights of block\.0 · frozen · resident on the GPU/);
    assert.match(await hover(nb, 'model.layers[0].mlp', 'mlp'), /3 parameter tensors[\s\S]*bf16 · 72 KiB \(73728 bytes\)/);
    assert.equal(await hover(nb, 'model.parameters()[0]', '0'), '', 'no calls');
  });

  test('%tensors lists the reference model\'s tensors with their dtypes and shapes', async () => {
    const cell = await runCell(nb, '%tensors model.layers.0.*');
    assert.equal(cell.executionSummary?.success, true, cellText(cell));
    const text = cellText(cell);
    assert.match(text, /model\.layers\.0\.self_attn\.q_proj\.weight\s+bf16\s+\[64, 64\]\s+8192\s+weights/);
    assert.match(text, /model\.layers\.0\.self_attn\.k_proj\.weight\s+bf16\s+\[32, 64\]\s+4096\s+weights/);
    assert.match(text, /model\.layers\.0\.mlp\.down_proj\.weight\s+bf16\s+\[64, 192\]\s+24576\s+weights/);
    assert.ok(mimes(cell).includes('application/vnd.apache.arrow.file'), 'an Arrow table output');
  });

  test('parameter names in magics and strings, globs', async () => {
    assert.match(await hover(nb, '%tensors model.layers.0.*', 'layers'), /9 parameter tensors/);
    assert.match(await hover(nb, "llmnb.tensors('model.norm.weight')", 'norm'), /bf16 · \[64\] · 128 bytes/);
  });

  test('a head made by %replace_head says the model\'s dtype', async () => {
    const cell = await runCell(nb, '%replace_head --classes 2 --labels ham,spam');
    assert.equal(cell.executionSummary?.success, true, cellText(cell));
    assert.match(await hover(nb, 'model.out_head.weight', 'weight'), /Parameter `out_head\.weight`[\s\S]*bf16 · \[2, 64\] · 256 bytes/);
  });

  test('a hover is answered while a cell runs', async () => {
    const index = await appendCell(nb, "console.log('waiting')\nfor (let i = 0; i < 60; i++) await new Promise((r) => setTimeout(r, 50))");
    const running = executeCell(nb, index);
    await waitFor('the cell to start', () => cellText(nb.cellAt(index)).includes('waiting'));
    const t0 = Date.now();
    assert.match(await hover(nb, 'model.norm.weight', 'weight'), /bf16 · \[64\]/);
    assert.ok(Date.now() - t0 < 1500, `${Date.now() - t0} ms`);
    assert.ok(!finished(nb.cellAt(index)), 'the cell was still running');
    await running;
  });
});
