// Bundles the extension (CommonJS, for VS Code's extension host), the kernel and CLI (ES modules for Node) and
// the webview scripts (browser). `webgpu` stays external: it is a native addon loaded from node_modules.
import * as esbuild from 'esbuild';
import fs from 'node:fs';

const common = { bundle: true, sourcemap: true, logLevel: 'warning', target: 'node20' };
// ES module bundles of CommonJS dependencies need a `require`.
const esmBanner = { js: "import { createRequire as __llmnbCreateRequire } from 'node:module'; const require = __llmnbCreateRequire(import.meta.url);" };

/** The *.test.ts files directly in `dir`, sorted. */
function testFiles(dir) {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `${dir}/${f}`) : [];
}

const builds = [
  { ...common, entryPoints: ['kernel/main.ts', 'kernel/cli.ts'], outdir: 'out/kernel', platform: 'node', format: 'esm',
    outExtension: { '.js': '.mjs' }, external: ['webgpu'], banner: esmBanner },
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'out/extension.cjs', platform: 'node', format: 'cjs',
    external: ['vscode'] },
  // The memory panel's webview script (a browser page; apache-arrow bundled in to decode the snapshots).
  { ...common, entryPoints: ['media/memory/main.ts'], outfile: 'out/media/memory.js', platform: 'browser', format: 'iife',
    target: 'chrome120', minify: true },
  // The VS Code integration suite: a Mocha entry (index) and one bundle per test file, loaded by the extension host.
  { ...common, entryPoints: ['test/integration/index.ts', ...testFiles('test/integration')], outdir: 'out/test/integration',
    platform: 'node', format: 'cjs', outExtension: { '.js': '.cjs' }, external: ['vscode', 'mocha', 'mocha/*'] },
];
for (const b of builds) {
  const entries = b.entryPoints.filter((e) => fs.existsSync(e));
  if (entries.length) await esbuild.build({ ...b, entryPoints: entries });
}
