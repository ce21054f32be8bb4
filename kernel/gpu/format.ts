// Human-readable sizes: binary units, as the user compares them with GPU memory (GiB).
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${UNITS[u]}`;
}

/** Parses '24GiB', '512 MiB', '1.5G', '1000000' into bytes. Returns NaN when malformed. */
export function parseBytes(text: string): number {
  const m = /^\s*([\d.]+)\s*([KMGT]?)(i?B)?\s*$/i.exec(text);
  if (!m) return NaN;
  const exp = ['', 'K', 'M', 'G', 'T'].indexOf(m[2].toUpperCase());
  return Math.round(Number(m[1]) * 1024 ** exp);
}
