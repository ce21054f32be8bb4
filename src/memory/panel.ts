// The memory panel ("llmnb: Show Memory Panel", `%memory --panel`): one webview that follows the active llmnb
// notebook and shows its kernel's GPU memory live (media/memory/). The page has a Content Security Policy with a
// per-load nonce: only the bundled script runs, styles come from the extension's CSS file only.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as vscode from 'vscode';
import type { FromPanel, RenderedTable, ToPanel } from '../../media/memory/messages.js';
import { NOTEBOOK_TYPE } from '../serializer.js';
import type { MemoryWatch } from './watch.js';

export const MEMORY_PANEL_TYPE = 'llmnb.memory';

export class MemoryPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | null = null;
  private notebook: vscode.NotebookDocument | null = null;
  private table: RenderedTable | null = null;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri, private readonly watch: MemoryWatch) {
    this.disposables.push(
      vscode.window.onDidChangeActiveNotebookEditor((e) => {
        if (e?.notebook.notebookType === NOTEBOOK_TYPE) this.setNotebook(e.notebook);
      }),
      vscode.workspace.onDidCloseNotebookDocument((nb) => {
        if (nb === this.notebook) this.setNotebook(null);
      }),
      watch.onDidUpdate(({ notebook, snapshot }) => {
        if (this.follows(notebook)) this.post({ type: 'snapshot', snapshot });
      }),
      watch.onDidChangeKernel((notebook) => {
        if (this.follows(notebook)) this.sendNotebook();
      }),
    );
  }

  /** The notebook the panel shows and what its table showed last (null before the first render). */
  get state(): { notebook: vscode.Uri | null; visible: boolean; table: RenderedTable | null } {
    return { notebook: this.notebook?.uri ?? null, visible: this.panel?.visible ?? false, table: this.table };
  }

  /** Opens the panel (or brings it forward) beside the notebook, showing `nb` or the active llmnb notebook. */
  show(nb?: vscode.NotebookDocument): void {
    const active = vscode.window.activeNotebookEditor?.notebook;
    const target = nb ?? (active?.notebookType === NOTEBOOK_TYPE ? active : this.notebook);
    if (this.panel) {
      this.panel.reveal(undefined, true);
    } else {
      this.panel = this.createPanel();
    }
    this.setNotebook(target ?? null);
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }

  private createPanel(): vscode.WebviewPanel {
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const bundle = vscode.Uri.joinPath(this.extensionUri, 'out', 'media');
    const panel = vscode.window.createWebviewPanel(MEMORY_PANEL_TYPE, 'llmnb Memory', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [media, bundle],
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    panel.webview.html = pageHtml(panel.webview, vscode.Uri.joinPath(bundle, 'memory.js'), vscode.Uri.joinPath(media, 'memory.css'));
    panel.webview.onDidReceiveMessage((m: FromPanel) => {
      if (m.type === 'ready') this.sendNotebook();
      else if (m.type === 'rendered') this.table = m.table;
    });
    panel.onDidChangeViewState(() => this.updateFollow());
    panel.onDidDispose(() => {
      this.panel = null;
      this.table = null;
      this.updateFollow();
    });
    return panel;
  }

  private setNotebook(nb: vscode.NotebookDocument | null): void {
    const changed = nb !== this.notebook;
    this.notebook = nb;
    if (this.panel) this.panel.title = nb ? `llmnb Memory: ${path.basename(nb.uri.path)}` : 'llmnb Memory';
    this.updateFollow();
    if (changed) this.sendNotebook();
  }

  private follows(uri: vscode.Uri): boolean {
    return this.notebook?.uri.toString() === uri.toString();
  }

  private updateFollow(): void {
    this.watch.follow(this.panel?.visible && this.notebook ? this.notebook.uri : null);
  }

  private sendNotebook(): void {
    const nb = this.notebook;
    const memory = nb ? this.watch.memory(nb.uri) : { kernel: 'stopped' as const, history: [], last: null };
    this.post({ type: 'notebook', name: nb ? path.basename(nb.uri.path) : null, kernel: memory.kernel, history: memory.history, snapshot: memory.last });
  }

  private post(message: ToPanel): void {
    void this.panel?.webview.postMessage(message);
  }
}

function pageHtml(webview: vscode.Webview, script: vscode.Uri, css: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [`default-src 'none'`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`, `img-src ${webview.cspSource}`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${webview.asWebviewUri(css).toString()}">
<title>llmnb Memory</title>
</head>
<body>
<header><h1 id="title">GPU memory</h1><p id="summary"></p></header>
<main id="body"></main>
<script nonce="${nonce}" src="${webview.asWebviewUri(script).toString()}"></script>
</body>
</html>`;
}
