// The llmnb extension: the .llmnb serializer, the "llmnb (WebGPU)" controller with one kernel process per
// notebook, and the kernel commands. It never loads `webgpu`: all GPU work happens in the kernel process.
import * as vscode from 'vscode';
import type { LlmnbApi } from './api.js';
import { registerCommands } from './commands.js';
import { createController } from './controller.js';
import { KernelManager } from './kernels.js';
import { LlmnbSerializer, NOTEBOOK_TYPE } from './serializer.js';

export function activate(context: vscode.ExtensionContext): LlmnbApi {
  const log = vscode.window.createOutputChannel('llmnb', { log: true });
  const kernels = new KernelManager(context.asAbsolutePath('out/kernel/main.mjs'), log);
  context.subscriptions.push(
    log,
    kernels,
    vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new LlmnbSerializer(), { transientOutputs: false }),
    ...createController(kernels),
    ...registerCommands(kernels),
    vscode.workspace.onDidCloseNotebookDocument((nb) => { void kernels.shutdown(nb.uri); }),
  );
  return {
    kernelPid: (uri) => kernels.find(uri)?.pid,
    get notifications() { return kernels.notifications; },
  };
}

