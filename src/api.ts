// What the extension exports (vscode.extensions.getExtension('llmnb.llmnb').exports): read-only facts about
// its kernels and views, used by the integration tests and available to other extensions.
import type * as vscode from 'vscode';
import type { RenderedTable } from '../media/memory/messages.js';

export interface LlmnbApi {
  /** The process id of the notebook's kernel, if one is running. */
  kernelPid(notebook: vscode.Uri): number | undefined;
  /** The messages of every notification the extension showed, oldest first. */
  readonly notifications: readonly string[];
  /** The memory panel: the notebook it follows, whether it is visible, and its table as last rendered. */
  readonly memoryPanel: { notebook: vscode.Uri | null; visible: boolean; table: RenderedTable | null };
}
