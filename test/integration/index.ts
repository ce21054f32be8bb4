// The Mocha entry that VS Code's extension host loads (the --extensionTestsPath contract of @vscode/test-electron,
// also used by scripts/run-vscode-tests.mjs with the VS Code server). It runs every *.test.cjs next to it (one
// bundle per test/integration/*.test.ts), TDD interface (suite/test). LLMNB_TEST_GREP limits the tests run.
// The last console line is "N passed, N failed"; the runner prints it as its own last line.
import fs from 'node:fs';
import path from 'node:path';
import type MochaType from 'mocha';

export function run(): Promise<void> {
  // mocha's CommonJS build, from the extension's node_modules (external to this bundle).
  const Mocha = require('mocha/lib/mocha.cjs') as typeof MochaType;
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  if (process.env.LLMNB_TEST_GREP) mocha.grep(process.env.LLMNB_TEST_GREP);
  for (const f of fs.readdirSync(__dirname).filter((n) => n.endsWith('.test.cjs')).sort()) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      console.log(`${runner.stats?.passes ?? 0} passed, ${failures} failed`);
      if (failures > 0) reject(new Error(`${failures} tests failed`));
      else resolve();
    });
  });
}
