// The `llmnb` command line: a table of subcommands, each a module in kernel/cli/<name>.ts exporting
// `summary`, `usage` and `main(argv): Promise<number>` (the exit code). To add one: write the module and add a row
// to COMMANDS. Errors: an LlmnbError prints "error: message" and "hint: ..." on stderr, no stack trace, and exits
// 1; a UsageError exits 2. LLMNB_DEBUG=1 prints stacks.
import { LlmnbError, UsageError } from './errors.js';

export interface Subcommand {
  summary: string;
  usage: string;
  main(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Subcommand>> = {
  run: () => import('./cli/run.js'),
  forward: () => import('./cli/forward.js'),
  generate: () => import('./cli/generate.js'),
  device: () => import('./cli/device.js'),
};

async function help(): Promise<string> {
  const lines = ['usage: llmnb COMMAND [ARGS]   (llmnb COMMAND --help shows its flags)', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  return lines.join('\n');
}

/** Runs `llmnb argv...` and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(`${await help()}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  try {
    if (!load) throw new UsageError(`unknown command ${JSON.stringify(name)}`, `Commands: ${Object.keys(COMMANDS).join(', ')}.`);
    const cmd = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`usage: ${cmd.usage}\n\n${cmd.summary}\n`);
      return 0;
    }
    return await cmd.main(rest);
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (process.env.LLMNB_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  if (e instanceof LlmnbError) {
    process.stderr.write(`error: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
    return e instanceof UsageError ? 2 : 1;
  }
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}
