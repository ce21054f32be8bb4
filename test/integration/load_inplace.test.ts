// "llmnb: Load Weights in Place" in VS Code: it appends a %load_inplace cell (path relative to the notebook), runs it
// in the notebook's kernel, and reports the outcome in a notification; a bad checkpoint is an error notification
// and changes nothing; without a kernel it only explains what to do.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LlmnbApi } from '../../src/api.js';
import type { LoadOutcome } from '../../src/load_inplace.js';
import { cellText, extensionApi, fixtureUri, openNotebook, runCell } from './helpers.js';

function load(nb: vscode.NotebookDocument, file: string): Thenable<LoadOutcome | undefined> {
  return vscode.commands.executeCommand<LoadOutcome | undefined>('llmnb.loadWeightsInPlace', nb.uri, fixtureUri(file));
}

suite('Load Weights in Place', () => {
  let nb: vscode.NotebookDocument;
  let api: LlmnbApi;

  suiteSetup(async () => {
    api = await extensionApi();
    nb = await openNotebook('inplace.llmnb');
  });

  test('without a kernel it says what to do and adds no cell', async () => {
    const cells = nb.cellCount;
    assert.equal(await load(nb, 'reference/model_bf16.safetensors'), undefined);
    assert.equal(nb.cellCount, cells);
    assert.match(api.notifications.at(-1) ?? '', /no kernel running.*%load_model/);
  });

  test('loads a checkpoint into the model through a %load_inplace cell, and says so', async () => {
    const setup = await runCell(nb, '%load_model reference/model_bf16.safetensors --empty');
    assert.equal(setup.executionSummary?.success, true, cellText(setup));
    const outcome = await load(nb, 'reference/model_bf16.safetensors');
    assert.ok(outcome);
    assert.equal(outcome.success, true, outcome.message);
    const cell = nb.cellAt(outcome.cell);
    assert.equal(cell.document.getText(), '%load_inplace reference/model_bf16.safetensors');
    assert.match(cellText(cell), /load_inplace\s+100%.*30\/30/);
    assert.match(outcome.message, /^Loaded 30 tensors \([\d.]+ KiB\) from .*model_bf16\.safetensors \(safetensors\) into the live model/);
    assert.equal(api.notifications.at(-1), `llmnb: ${outcome.message}`);
    assert.match(cellText(await runCell(nb, '%tensors model.norm.weight')), /true\s*$/m, 'resident after the load');
  });

  test('a checkpoint that does not fit is an error notification; the model keeps its weights', async () => {
    const outcome = await load(nb, 'reference/classifier.safetensors');
    assert.equal(outcome?.success, false);
    assert.match(outcome?.message ?? '', /^ShapeMismatchError: .*classification head but the model has a language-model head/);
    assert.match(api.notifications.at(-1) ?? '', /^llmnb: load in place failed: ShapeMismatchError/);
  });
});
