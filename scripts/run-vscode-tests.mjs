// Runs the integration suite (out/test/integration/index.cjs, built from test/integration/) inside a REAL VS Code
// extension host.
//
// Default: the VS Code server that scripts/setup-vscode-server.sh installs (from the npm package code-server; no
// desktop VS Code can be downloaded here). The server runs on 127.0.0.1; headless Chromium (playwright-core, Debian's
// /usr/bin/chromium) opens its workbench with the `payload` VS Code's own integration-test runner uses
// (extensionDevelopmentPath + extensionTestsPath). The extension and the Mocha suite then run in the server's Node
// extension host, as with @vscode/test-electron, and the workbench reports the result through
// window.codeAutomationExit(code).
// --desktop: the same suite in desktop VS Code through @vscode/test-electron. It needs a VS Code it can download
// (network) or one named by VSCODE_DESKTOP_PATH, and fails with a clear message otherwise.
// --ui: person-like flows instead of the Mocha suite: each test/integration/ui/*.ui.mjs default-exports
// `async ({ page, log, screenshot, workspace }) => {...}` that drives the workbench with Playwright (click, type,
// read the output webviews) and saves screenshots into test/artifacts/ui/. A flow fails by throwing.
// --vsix FILE: installs the packaged extension (npm run package) into the fresh extensions folder with the server's
// own CLI (server-main.js --install-extension) and runs the suite (or the --ui flows) against it instead of this
// folder's sources: what a user who installs the VSIX gets.
//
// Exit code: 0 all tests passed, 1 a test failed, 2 the tests could not run (setup missing, server or browser
// failure, timeout). The last line printed is "N passed, N failed".
//
// Env: CODE_SERVER_DIR (default .vscode-test/code-server-4.100.3/node_modules/code-server), LLMNB_TEST_GREP (run
// matching tests only), TEST_TIMEOUT_MS (whole run, default 600000), PORT (default: a free one), CHROMIUM,
// VSCODE_DESKTOP_PATH (--desktop), VERBOSE=1 (browser console too).
// Artifacts: test/artifacts/integration/ (server log, a screenshot of the workbench at the end).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testsEntry = path.join(root, 'out', 'test', 'integration', 'index.cjs');
const workspaceFixture = path.join(root, 'test', 'integration', 'workspace');
const work = path.join(root, '.vscode-test', 'run');
const artifacts = path.join(root, 'test', 'artifacts', 'integration');
const uiFlows = path.join(root, 'test', 'integration', 'ui');
const uiMode = process.argv.includes('--ui');
const vsixArg = process.argv.indexOf('--vsix');
const vsix = vsixArg > 0 ? path.resolve(process.argv[vsixArg + 1] ?? '') : null;
if (vsix && !fs.existsSync(vsix)) fail(`no VSIX at ${vsix}`, 'Build one with `npm run package`.');
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 600_000);
const t0 = Date.now();
const log = (...a) => console.log(`[vscode-tests +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

function fail(message, hint) {
  console.error(`error: ${message}`);
  if (hint) console.error(`hint: ${hint}`);
  console.log('0 passed, 0 failed');
  process.exit(2);
}

for (const f of [path.join(root, 'out', 'extension.cjs'), testsEntry]) {
  if (!fs.existsSync(f)) fail(`${path.relative(root, f)} is missing`, 'Run `npm run build` first.');
}

/** The reference model's files the tests load (kept once in git, under test/fixtures/reference/). */
const REFERENCE_FILES = ['config.json', 'model_bf16.safetensors', 'classifier.safetensors'];

/** A fresh copy of the fixture workspace (VS Code auto-saves, and the tests edit notebooks), with the reference
 *  model in reference/. */
function freshWorkspace() {
  const ws = path.join(work, 'workspace');
  fs.rmSync(ws, { recursive: true, force: true });
  fs.cpSync(workspaceFixture, ws, { recursive: true });
  fs.mkdirSync(path.join(ws, 'reference'));
  for (const f of REFERENCE_FILES) fs.copyFileSync(path.join(root, 'test', 'fixtures', 'reference', f), path.join(ws, 'reference', f));
  return ws;
}

if (process.argv.includes('--desktop')) await runDesktop();
else await runServer();

async function runDesktop() {
  const { runTests, downloadAndUnzipVSCode } = await import('@vscode/test-electron');
  let vscodeExecutablePath = process.env.VSCODE_DESKTOP_PATH;
  if (!vscodeExecutablePath) {
    log('downloading desktop VS Code 1.100.3 (@vscode/test-electron)');
    try {
      vscodeExecutablePath = await downloadAndUnzipVSCode({ version: '1.100.3', timeout: 30_000 });
    } catch (e) {
      fail(`could not download desktop VS Code: ${e.message.split('\n')[0]}`,
        'Set VSCODE_DESKTOP_PATH to an installed VS Code (the `code` binary), or run `npm run test:integration`, which uses the VS Code server and works offline.');
    }
  }
  try {
    // The suite prints "N passed, N failed" itself, as the last line of VS Code's output.
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: root,
      extensionTestsPath: testsEntry,
      launchArgs: [freshWorkspace(), '--disable-extensions', '--disable-workspace-trust', '--skip-welcome'],
      extensionTestsEnv: { LLMNB_TEST_GREP: process.env.LLMNB_TEST_GREP ?? '' },
    });
    process.exit(0);
  } catch (e) {
    log(`desktop run failed: ${e.message ?? e}`);
    process.exit(1);
  }
}

async function freePort() {
  if (process.env.PORT) return Number(process.env.PORT);
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function runServer() {
  const { chromium } = await import('playwright-core');
  const codeServerDir = path.resolve(process.env.CODE_SERVER_DIR ?? path.join(root, '.vscode-test', 'code-server-4.100.3', 'node_modules', 'code-server'));
  const vscodeDir = path.join(codeServerDir, 'lib', 'vscode');
  if (!fs.existsSync(path.join(vscodeDir, 'product.json'))) {
    fail(`no VS Code server at ${codeServerDir}`, 'Run `bash scripts/setup-vscode-server.sh` (or `npm run test:integration`, which does).');
  }
  const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(chromiumPath)) fail(`no Chromium at ${chromiumPath}`, 'Install it: sudo apt-get install -y chromium (or set CHROMIUM).');

  for (const d of ['user-data', 'server-data', 'extensions']) fs.rmSync(path.join(work, d), { recursive: true, force: true });
  for (const d of ['user-data/User', 'server-data', 'extensions', 'xdg-config', 'xdg-data']) fs.mkdirSync(path.join(work, d), { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const ws = freshWorkspace();
  fs.writeFileSync(path.join(work, 'user-data', 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'telemetry.telemetryLevel': 'off',
    'update.mode': 'none', 'extensions.autoCheckUpdates': false, 'extensions.autoUpdate': false,
    'workbench.enableExperiments': false, 'workbench.tips.enabled': false, 'chat.disableAIFeatures': true,
    'git.openRepositoryInParentFolders': 'never', 'files.autoSave': 'off',
  }, null, 1));

  const port = await freePort();
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(work, 'xdg-config'),
    XDG_DATA_HOME: path.join(work, 'xdg-data'),
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
    // No extension marketplace (the default gallery is unreachable offline).
    EXTENSIONS_GALLERY: '{"serviceUrl":""}',
  };
  const product = JSON.parse(fs.readFileSync(path.join(vscodeDir, 'product.json'), 'utf8'));
  if (vsix) installVsix(vscodeDir, env);
  log(`VS Code ${product.version} server on 127.0.0.1:${port}`);
  // --enable-smoke-test-driver: newer workbenches honour the test payload only with it.
  const server = spawn(process.execPath, [path.join(vscodeDir, 'out', 'server-main.js'),
    '--host', '127.0.0.1', '--port', String(port), '--without-connection-token', '--accept-server-license-terms',
    '--enable-smoke-test-driver', '--disable-telemetry', '--disable-workspace-trust',
    '--server-data-dir', path.join(work, 'server-data'), '--user-data-dir', path.join(work, 'user-data'),
    '--extensions-dir', path.join(work, 'extensions'), '--default-folder', ws], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const serverLog = fs.createWriteStream(path.join(artifacts, 'server.log'));
  server.stdout.pipe(serverLog);
  server.stderr.pipe(serverLog);

  let browser;
  let page;
  let done = false;
  let summary = null;
  async function finish(code, why) {
    if (done) return;
    done = true;
    log(`${why}; exit code ${code}; server log in ${path.relative(root, path.join(artifacts, 'server.log'))}`);
    try { await page?.screenshot({ path: path.join(artifacts, 'workbench.png') }); } catch { /* the page may be gone */ }
    try { await browser?.close(); } catch { /* already closed */ }
    try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
    console.log(summary ?? (code === 0 ? '0 passed, 0 failed' : '0 passed, 1 failed'));
    setTimeout(() => process.exit(code), 300);
  }
  server.on('exit', (c, s) => { void finish(2, `the VS Code server exited early (${s ?? c})`); });
  process.on('SIGINT', () => void finish(130, 'interrupted'));
  process.on('SIGTERM', () => void finish(143, 'terminated'));
  setTimeout(() => void finish(2, `timed out after ${timeoutMs / 1000} s`), timeoutMs).unref();

  try {
    for (;;) {
      try { if ((await fetch(`http://127.0.0.1:${port}/`)).ok) break; } catch { /* not up yet */ }
      if (Date.now() - t0 > 60_000) throw new Error('the VS Code server did not answer within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    log('server up; starting Chromium');
    browser = await chromium.launch({
      executablePath: chromiumPath, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on('pageerror', (e) => log('page error:', String(e).slice(0, 300)));
    page.on('crash', () => void finish(2, 'the workbench page crashed'));
    if (process.env.VERBOSE) page.on('console', (m) => console.log('[browser]', m.type(), m.text().slice(0, 300)));

    // The workbench forwards the extension host's console (Mocha's reporter) here while extension tests run.
    await page.exposeFunction('codeAutomationLog', (_type, args) => {
      const line = formatConsoleArgs(args ?? []).trimEnd();
      if (!line.trim()) return;
      if (/^\d+ passed, \d+ failed$/.test(line)) summary = line;
      console.log('[vscode]', line);
    });
    await page.exposeFunction('codeAutomationExit', (code) => finish(code === 0 ? 0 : 1, `the suite finished (code ${code})`));

    const authority = `127.0.0.1:${port}`;
    // With --vsix the development extension is an empty harness (the workbench runs extension tests only with one);
    // llmnb itself is the installed VSIX.
    const devPath = vsix ? vsixHarness() : root;
    const payload = [['extensionDevelopmentPath', `vscode-remote://${authority}${devPath}`], ['skipWelcome', 'true']];
    if (!uiMode) payload.push(['extensionTestsPath', `vscode-remote://${authority}${testsEntry}`]);
    log('opening the workbench');
    await page.goto(`http://${authority}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    if (uiMode) {
      const { passed, failed } = await runUiFlows(page, ws);
      summary = `${passed} passed, ${failed} failed`;
      await finish(failed ? 1 : 0, 'the UI flows finished');
    }
  } catch (e) {
    await finish(2, `runner error: ${e.message}`);
  }
}

/** Installs the VSIX into the run's fresh extensions folder, as `code --install-extension` would. */
function installVsix(vscodeDir, env) {
  log(`installing ${path.relative(root, vsix)} (${(fs.statSync(vsix).size / 1024 / 1024).toFixed(2)} MiB)`);
  const r = spawnSync(process.execPath, [path.join(vscodeDir, 'out', 'server-main.js'), '--install-extension', vsix,
    '--extensions-dir', path.join(work, 'extensions'), '--server-data-dir', path.join(work, 'server-data'), '--accept-server-license-terms'],
  { env, encoding: 'utf8', timeout: 120_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.status !== 0 || !/successfully installed/.test(out)) fail(`the VSIX did not install: ${out || r.error?.message}`);
  const installed = fs.readdirSync(path.join(work, 'extensions')).filter((d) => !d.endsWith('.json'));
  log(`installed: ${installed.join(', ')}`);
}

/** An extension that contributes nothing, to stand in as the development extension next to the installed VSIX. */
function vsixHarness() {
  const dir = path.join(work, 'vsix-harness');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'llmnb-vsix-harness', publisher: 'llmnb-tests', version: '0.0.0', engines: { vscode: '*' },
  }));
  return dir;
}

/** Runs each test/integration/ui/*.ui.mjs flow (those whose file name matches LLMNB_TEST_GREP) in name order
 *  against the open workbench. */
async function runUiFlows(page, workspace) {
  const shots = path.join(root, 'test', 'artifacts', 'ui');
  fs.mkdirSync(shots, { recursive: true });
  const screenshot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });
  let passed = 0;
  let failed = 0;
  const grep = process.env.LLMNB_TEST_GREP ? new RegExp(process.env.LLMNB_TEST_GREP) : null;
  for (const file of fs.readdirSync(uiFlows).filter((f) => f.endsWith('.ui.mjs') && (!grep || grep.test(f))).sort()) {
    const flow = (await import(pathToFileURL(path.join(uiFlows, file)).href)).default;
    try {
      await flow({ page, log, screenshot, workspace });
      passed++;
      log(`passed: ${file}`);
    } catch (e) {
      failed++;
      log(`FAILED: ${file}: ${e.message.split('\n')[0]}`);
      await screenshot(`${path.basename(file, '.ui.mjs')}-failure`).catch(() => {});
    }
  }
  log(`screenshots in ${path.relative(root, shots)}`);
  return { passed, failed };
}

/** console.log's printf-style arguments as one line: %s %d %i %f %o %O take the next argument, %c (CSS) drops it. */
function formatConsoleArgs(args) {
  const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  if (typeof args[0] !== 'string') return args.map(show).join(' ');
  const rest = args.slice(1);
  const head = args[0].replace(/%[sdifoOc%]/g, (m) => {
    if (m === '%%') return '%';
    if (!rest.length) return m;
    const v = rest.shift();
    return m === '%c' ? '' : show(v);
  });
  return [head, ...rest.map(show)].join(' ');
}
