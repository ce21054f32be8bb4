// The hover's Markdown for what the kernel said about a name (no `vscode` here, so it is unit-tested in Node).
// Only tensors, parameters and objects holding parameters get a hover: other values are the cell's business, and
// with no model and no tensors nothing shows.
import { formatBytes } from '../../kernel/gpu/format.js';
import type { InspectResult, ParameterSummary, TensorFacts } from '../../kernel/protocol.js';

/** "8 KiB (8192 bytes)": binary units without trailing zeros, then the exact count. */
export function bytesText(bytes: number): string {
  const human = formatBytes(bytes).replace(/\.0+ /, ' ').replace(/(\.\d*?)0+ /, '$1 ');
  return bytes < 1024 ? `${bytes} bytes` : `${human} (${bytes} bytes)`;
}

/** Markdown for the hover, or null when there is nothing a hover should show. */
export function hoverMarkdown(r: InspectResult): string | null {
  const title = `**${code(r.expression)}**`;
  if (r.tensor) return [`${title}: ${tensorTitle(r)}`, tensorLine(r.tensor), ...detailLine(r.tensor)].join('\n\n');
  if (r.parameters) return [`${title}: ${r.type}, ${countText(r.parameters)}`, summaryLine(r.parameters), summaryDetail(r.parameters)].join('\n\n');
  return null;
}

function code(s: string): string {
  return `\`${s.replace(/`/g, "'")}\``;
}

function tensorTitle(r: InspectResult): string {
  const t = r.tensor!;
  if (r.type === 'Parameter' && t.name) return `Parameter ${code(t.name)}`;
  return t.name ? `${r.type} ${code(t.name)}` : r.type;
}

function tensorLine(t: TensorFacts): string {
  return [t.dtype, `[${t.shape.join(', ')}]`, bytesText(t.bytes)].join(' · ');
}

function detailLine(t: TensorFacts): string[] {
  const parts: string[] = [];
  if (t.kind) parts.push(t.layer ? `${t.kind} of ${t.layer}` : t.kind);
  if (t.trainable !== undefined) parts.push(t.trainable ? 'trainable' : 'frozen');
  if (t.resident !== undefined) parts.push(t.resident ? 'resident on the GPU' : 'not on the GPU');
  return parts.length ? [parts.join(' · ')] : [];
}

function countText(s: ParameterSummary): string {
  return `${s.count} parameter tensor${s.count === 1 ? '' : 's'}`;
}

function summaryLine(s: ParameterSummary): string {
  return [s.dtypes.join(', '), bytesText(s.bytes)].join(' · ');
}

function summaryDetail(s: ParameterSummary): string {
  const trainable = s.trainable === 0 ? 'all frozen' : s.trainable === s.count ? 'all trainable' : `${s.trainable} of ${s.count} trainable`;
  const resident = s.residentBytes === s.bytes ? 'all resident on the GPU'
    : s.residentBytes === 0 ? 'none on the GPU' : `${bytesText(s.residentBytes)} resident on the GPU`;
  return `${trainable} · ${resident}`;
}
