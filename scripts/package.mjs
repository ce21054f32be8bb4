// `npm run package`: builds the bundles and packages the extension for linux-x64 with vsce into
// llmnb-linux-x64-VERSION.vsix (at the repository root; *.vsix is git-ignored). What goes in is decided by
// .vscodeignore (the bundles, the webview CSS and icon, the grammar, webgpu's linux-x64 dawn.node and the default
// tokenizer's JSON); the marketplace page is README.marketplace.md. Fails if the VSIX is 20 MB or larger.
// Prints the VSIX path as its last line.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_BYTES = 20 * 1024 * 1024;
const TARGET = 'linux-x64';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const vsix = path.join(root, `${manifest.name}-${TARGET}-${manifest.version}.vsix`);
const dawn = path.join(root, 'node_modules', 'webgpu', 'dist', TARGET, 'dawn.node');
if (!fs.existsSync(dawn)) {
  console.error(`error: ${path.relative(root, dawn)} is missing`);
  console.error('hint: run `npm ci` on any platform: the webgpu package ships every platform\'s build.');
  process.exit(1);
}
function run(cmd, args) {
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  } catch (e) {
    console.error(`error: ${path.basename(args[0])} ${args[1] ?? ''} failed (${e.status ?? e.signal}); see above`);
    process.exit(1);
  }
}
run(process.execPath, ['scripts/build.mjs']);
// LICENSE and repository: the manifest names the license (MIT); vsce would otherwise stop to ask.
run(process.execPath, [path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--target', TARGET,
  '--readme-path', 'README.marketplace.md', '--changelog-path', 'CHANGELOG.md', '--allow-missing-repository',
  '--out', vsix]);
const bytes = fs.statSync(vsix).size;
console.log(`${path.relative(root, vsix)}: ${(bytes / 1024 / 1024).toFixed(2)} MiB`);
if (bytes >= MAX_BYTES) {
  console.error(`error: the VSIX is ${bytes} bytes, over the 20 MiB budget`);
  process.exit(1);
}
console.log(vsix);
