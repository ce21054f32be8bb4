// What the extension exports (vscode.extensions.getExtension('llmnb.llmnb').exports): read-only facts about
// its kernels, used by the integration tests and available to other extensions.
import type * as vscode from 'vscode';

export interface LlmnbApi {
  /** The process id of the notebook's kernel, if one is running. */
  kernelPid(notebook: vscode.Uri): number | undefined;
  /** The messages of every notification the extension showed, oldest first. */
  readonly notifications: readonly string[];
}
