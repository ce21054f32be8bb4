// The llmnb extension: the .llmnb serializer, the "llmnb (WebGPU)" controller with one kernel process per
// notebook, hovers that ask the kernel what a name holds, the memory panel, and the commands. It never loads
// `webgpu`: all GPU work happens in the kernel process.
import * as vscode from 'vscode';
import type { LlmnbApi } from './api.js';
import { registerCommands } from './commands.js';
import { trackContextKeys } from './context_keys.js';
import { createController } from './controller.js';
import { registerHover } from './hover/provider.js';
import { KernelManager } from './kernels.js';
import { MemoryPanel } from './memory/panel.js';
import { MemoryWatch } from './memory/watch.js';
import { LlmnbSerializer, NOTEBOOK_TYPE } from './serializer.js';

export function activate(context: vscode.ExtensionContext): LlmnbApi {
  const log = vscode.window.createOutputChannel('llmnb', { log: true });
  const kernels = new KernelManager(context.asAbsolutePath('out/kernel/main.mjs'), log);
  const watch = new MemoryWatch(kernels);
  const panel = new MemoryPanel(context.extensionUri, watch);
  context.subscriptions.push(
    log,
    kernels,
    watch,
    panel,
    vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new LlmnbSerializer(), { transientOutputs: false }),
    ...createController(kernels),
    ...registerCommands(kernels, panel, log),
    registerHover(kernels),
    ...trackContextKeys(kernels),
    kernels.onDidRequestView(({ notebook, view }) => { if (view === 'memory') panel.show(notebook); }),
    vscode.workspace.onDidCloseNotebookDocument((nb) => { void kernels.shutdown(nb.uri); }),
  );
  return {
    kernelPid: (uri) => kernels.find(uri)?.pid,
    get notifications() { return kernels.notifications; },
    get memoryPanel() { return panel.state; },
  };
}
