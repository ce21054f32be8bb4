// `npm run bench`: runs every benchmark in sequence, each in its own process (so one's memory and compiled
// pipelines do not affect the next), then says how each ended and where its JSON line went.
// Usage: npm run bench [-- --only forward,train]
// Takes long on a CPU-only machine (tens of minutes on 2 cores: the 8B-shaped models dominate); bench/README.md
// has each benchmark's own flags and bench/gpu-check.sh a short version for a machine with a GPU.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHES = ['matmul', 'forward', 'train', 'load-memory'];
const here = path.dirname(fileURLToPath(import.meta.url));
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1].split(',') : BENCHES;
const unknown = only.filter((b) => !BENCHES.includes(b));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; have ${BENCHES.join(', ')}`);
  process.exit(2);
}

const outcomes = [];
for (const name of BENCHES.filter((b) => only.includes(b))) {
  console.log(`\n######## bench/${name}.ts ########`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, `${name}.ts`)], { stdio: 'inherit' });
  // Exit 1 is also how a benchmark reports a failed acceptance check: its output says which.
  const status = r.status === 0 ? 'ok' : `exit ${r.signal ?? r.status} (see its output)`;
  outcomes.push({ name, status, minutes: (performance.now() - t0) / 60000, ok: r.status === 0 });
}

console.log('\n######## summary ########');
for (const o of outcomes) {
  console.log(`${o.name.padEnd(12)} ${o.status.padEnd(34)} ${o.minutes.toFixed(1).padStart(5)} min  -> ${path.relative(process.cwd(), path.join(here, 'results', `${o.name}.jsonl`))}`);
}
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
