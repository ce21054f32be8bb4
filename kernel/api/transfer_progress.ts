// The progress line of a checkpoint transfer (load or save): tensors as the bar, bytes and throughput as detail.
import { formatBytes } from '../gpu/format.js';
import type { TransferProgress } from '../model/load_weights.js';
import type { Progress } from '../output/progress.js';
import type { CellWriter } from '../output/writer.js';

/** A callback for onProgress that opens the progress line at the first report (when the totals are known). */
export function transferProgress(out: CellWriter, label: string): { update(p: TransferProgress): void; finish(): void } {
  let progress: Progress | null = null;
  let last: TransferProgress | null = null;
  return {
    update(p) {
      last = p;
      progress ??= out.progress({ label, total: p.tensorsTotal });
      progress.update(p.tensorsDone, transferDetail(p));
    },
    finish() {
      if (progress && last) progress.finish(transferDetail({ ...last, current: '' }));
    },
  };
}

export function transferDetail(p: TransferProgress): string {
  const parts = [`${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`, throughput(p.bytesDone, p.seconds)];
  if (p.current) parts.push(p.current);
  return parts.join('  ');
}

/** "123.4 MB/s" (decimal megabytes, as disks and networks are rated). */
export function throughput(bytes: number, seconds: number): string {
  return seconds > 0 ? `${(bytes / 1e6 / seconds).toFixed(1)} MB/s` : '-- MB/s';
}
