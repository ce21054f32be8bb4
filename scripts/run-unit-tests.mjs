// Runs every test/unit/**/*.test.ts with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-unit-tests.mjs [filter-substring ...]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.ts') && (!filters.length || filters.some((f) => p.includes(f)))) files.push(p);
  }
})('test/unit');
files.sort();
if (!files.length) {
  console.error(`no unit tests match ${filters.join(' ')}`);
  process.exit(2);
}
// The matmul autotune's choices go to a cache of the test runs' own (measured once per machine, not the user's).
const env = { ...process.env, LLMNB_CACHE_DIR: process.env.LLMNB_CACHE_DIR ?? path.resolve('test/artifacts/cache') };
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
