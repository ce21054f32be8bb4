// A person's first run: open tour.llmnb from the Explorer, press Run All, pick the llmnb kernel if asked, and read
// the rendered outputs (the device, a table, the error with its hint) in the notebook's output webview.
export default async function runAll({ page, log, screenshot }) {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const toolbar = page.locator('.notebook-toolbar-container');
  // Until the extension host has scanned the extension, a .llmnb opens as plain text: close it and try again.
  for (let attempt = 1; ; attempt++) {
    await page.getByRole('treeitem', { name: /tour\.llmnb/ }).click({ timeout: 60_000 });
    if (await toolbar.waitFor({ timeout: 5000 }).then(() => true, () => false)) break;
    if (attempt === 10) throw new Error('tour.llmnb never opened in the notebook editor');
    await page.keyboard.press('Control+W');
  }
  log('notebook editor open');
  await toolbar.getByText('Run All', { exact: true }).first().click({ timeout: 30_000 });
  const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'llmnb (WebGPU)' }).first();
  if (await pick.isVisible({ timeout: 5000 }).catch(() => false)) await pick.click();
  const outputs = page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
  await outputs.getByText(/swiftshader/i).first().waitFor({ timeout: 60_000 });
  await screenshot('run-all-top');
  // The notebook renders the outputs of the cells in view: scroll down to the table and the error.
  await page.mouse.move(800, 500);
  for (const [what, text] of [['table', /embed_tokens\.weight/], ['error hint', /hint: Use %tensors to list them\./]]) {
    for (let i = 0; ; i++) {
      if (await outputs.getByText(text).first().waitFor({ timeout: 1000 }).then(() => true, () => false)) break;
      if (i === 30) throw new Error(`the ${what} output never rendered`);
      await page.mouse.wheel(0, 400);
    }
  }
  log('device, table and error hint rendered');
  await screenshot('run-all-bottom');
}
