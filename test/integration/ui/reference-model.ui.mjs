// A person with the reference model: open reference-model.llmnb, Run All, read the memory panel that `%memory --panel`
// opens (its table, in the dark, light and high-contrast themes), hover a parameter and read the tooltip, then run
// "llmnb: Load Weights in Place" from the command palette, picking the checkpoint in VS Code's file dialog: once
// cancelled midway (the notebook's last cell slows the kernel down so that the load takes seconds), once to the end.
import fs from 'node:fs';
import path from 'node:path';

const CHECKPOINT = 'reference/model_bf16.safetensors';

export default async function referenceModel({ page, log, screenshot, workspace }) {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await openNotebook(page, 'reference-model.llmnb');
  const notebook = page.locator('.notebook-editor');
  await page.locator('.notebook-toolbar-container').getByText('Run All', { exact: true }).first().click({ timeout: 30_000 });
  const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'llmnb (WebGPU)' }).first();
  if (await pick.isVisible({ timeout: 5000 }).catch(() => false)) await pick.click();

  // %memory --panel opens the panel beside the notebook.
  const panel = await memoryPanelFrame(page);
  await panel.locator('#memory-table tbody tr', { hasText: 'block.0' }).waitFor({ timeout: 60_000 });
  const rows = await panel.locator('#memory-table tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  const block0 = rows.find((r) => r[0] === 'block.0');
  if (block0?.[1] !== '96.3 KiB') throw new Error(`block.0 weights in the panel: ${JSON.stringify(block0)}`);
  log(`memory panel table: ${rows.length} rows; block.0 ${block0.join(' | ')}`);
  await screenshot('memory-panel-dark');

  // Hover the parameter in the third cell: the kernel answers while the last cell holds it.
  const line = notebook.locator('.view-line', { hasText: 'q_proj.weight' }).first();
  const tooltip = page.locator('.monaco-hover', { hasText: '8 KiB (8192 bytes)' });
  for (let attempt = 1; ; attempt++) {
    await page.mouse.move(700, 850);
    await hoverWord(page, line, 'weight');
    if (await tooltip.waitFor({ timeout: 5000 }).then(() => true, () => false)) break;
    if (attempt === 4) throw new Error('no hover with the tensor\'s facts');
  }
  const text = (await tooltip.innerText()).replace(/\s+/g, ' ');
  for (const fact of ['bf16', '[64, 64]', '8 KiB (8192 bytes)', 'weights of block.0', 'frozen', 'resident on the GPU']) {
    if (!text.includes(fact)) throw new Error(`the hover lacks "${fact}": ${text}`);
  }
  log(`hover: ${text}`);
  await screenshot('hover-q-proj');

  // Load Weights in Place in the slowed-down kernel: Cancel once some tensors are in; the loader stops between
  // tensors and the notification says which were replaced.
  await runLoadCommand(page);
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: /loading model_bf16\.safetensors in place/ });
  const seen = new Set();
  for (let i = 0; ; i++) {
    const texts = await page.locator('.notifications-toasts').allInnerTexts().catch(() => []);
    for (const t of texts) if (!seen.has(t)) { seen.add(t); log(`toast: ${t.replace(/\s+/g, ' ')}`); }
    if (await toast.filter({ hasText: /\b([1-9]|1\d|2[0-5])\/30 tensors/ }).count()) break;
    if (i > 600) throw new Error('no progress notification with some tensors loaded');
    await page.waitForTimeout(100);
  }
  await screenshot('load-in-place-progress');
  await toast.getByRole('button', { name: 'Cancel' }).click();
  const cancelled = page.locator('.notifications-toasts', { hasText: /load cancelled: CancelledError: load interrupted after \d+ of 30 tensors; replaced: \w/ });
  await cancelled.waitFor({ timeout: 30_000 });
  log(`cancelled: ${(await cancelled.innerText()).split('\n')[0]}`);
  await screenshot('load-in-place-cancelled');
  fs.writeFileSync(path.join(workspace, 'fast'), '');

  // Again, to the end.
  await runLoadCommand(page);
  await page.locator('.notifications-toasts', { hasText: /Loaded 30 tensors \([\d.]+ KiB\) from .*model_bf16\.safetensors/ }).waitFor({ timeout: 60_000 });
  log('load in place reported');
  await screenshot('load-in-place-done');

  // The panel in the other themes.
  for (const [theme, shot] of [['Light Modern', 'memory-panel-light'], ['Dark High Contrast', 'memory-panel-high-contrast'],
    ['Light High Contrast', 'memory-panel-light-high-contrast'], ['Dark Modern', null]]) {
    await colorTheme(page, theme);
    if (shot) await screenshot(shot);
  }
  // Leave the workbench as the next flow expects it: the notebook reverted (the flow added cells), editors closed.
  await focusNotebook(page);
  await command(page, 'File: Revert File');
  await command(page, 'View: Close All Editors');
  await page.locator('.notebook-toolbar-container').waitFor({ state: 'detached', timeout: 10_000 });
}

/** Picks a color theme with "Preferences: Color Theme". */
async function colorTheme(page, theme) {
  await command(page, 'Preferences: Color Theme');
  const picker = page.locator('.quick-input-widget');
  await picker.locator('.monaco-list-row', { hasText: 'Modern' }).first().waitFor({ timeout: 10_000 });
  await picker.locator('input').fill(theme);
  await picker.locator('.monaco-list-row', { hasText: theme }).first().waitFor({ timeout: 10_000 });
  await picker.locator('input').press('Enter');
  await picker.waitFor({ state: 'hidden', timeout: 10_000 });
  await page.waitForTimeout(1000);
}

/** Moves the mouse onto the last occurrence of `word` in an editor line (Monaco splits lines into token spans). */
async function hoverWord(page, line, word) {
  await line.waitFor({ timeout: 30_000 });
  const at = await line.evaluate((el, w) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let found = null;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = n.textContent.lastIndexOf(w);
      if (i < 0) continue;
      const r = document.createRange();
      r.setStart(n, i);
      r.setEnd(n, i + w.length);
      const b = r.getBoundingClientRect();
      found = { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    }
    return found;
  }, word);
  if (!at) throw new Error(`no "${word}" in the line`);
  await page.mouse.move(at.x, at.y, { steps: 4 });
}

/** Opens a notebook from the Explorer (until the extension host has scanned the extension, a .llmnb opens as text:
 *  close it and try again). */
async function openNotebook(page, name) {
  const toolbar = page.locator('.notebook-toolbar-container');
  for (let attempt = 1; ; attempt++) {
    await page.getByRole('treeitem', { name: new RegExp(name.replace('.', '\\.')) }).click({ timeout: 60_000 });
    if (await toolbar.first().waitFor({ timeout: 5000 }).then(() => true, () => false)) return;
    if (attempt === 10) throw new Error(`${name} never opened in the notebook editor`);
    await page.keyboard.press('Control+W');
  }
}

/** The memory panel's webview frame (the page with #memory-table), once it exists. */
async function memoryPanelFrame(page) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.locator('#memory-table, #summary').count().catch(() => 0)) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('the memory panel never opened');
}

/** Makes the notebook the active editor (its tab), for the commands' when-clauses. */
async function focusNotebook(page) {
  await page.getByRole('tab', { name: /^reference-model\.llmnb/ }).click();
}

/** Runs a command from the palette (the notebook keeps focus for the when-clauses). */
async function command(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await page.keyboard.type(title);
  const row = page.locator('.quick-input-widget .monaco-list-row').getByText(title, { exact: true }).first();
  await row.waitFor({ timeout: 10_000 });
  await row.click();
}

/** "llmnb: Load Weights in Place", the checkpoint picked in VS Code's simple file dialog (a quick input that opens
 *  in the notebook's folder): into reference/, pick the file, accept. */
async function runLoadCommand(page) {
  await page.mouse.move(700, 850);
  await focusNotebook(page);
  await command(page, 'llmnb: Load Weights in Place');
  const dialog = page.locator('.quick-input-widget', { hasText: /Checkpoint to stream/ });
  await dialog.waitFor({ timeout: 10_000 });
  for (const name of CHECKPOINT.split('/')) {
    const row = dialog.locator('.monaco-list-row').getByText(name, { exact: true }).first();
    await row.waitFor({ timeout: 10_000 });
    await row.click();
  }
  // Picking a file accepts it; if the dialog only took it into its input, Enter accepts.
  if (await dialog.waitFor({ state: 'hidden', timeout: 2000 }).then(() => false, () => true)) {
    await dialog.locator('input').press('Enter');
    await dialog.waitFor({ state: 'hidden', timeout: 5000 });
  }
}
