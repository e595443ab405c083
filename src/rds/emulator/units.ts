// units.ts: RouterOS number and size notation, as the device prints and accepts it.
//
// Printing (routeros-cli.md 4.6): integers grouped in threes with spaces (`53 687 091 200`);
// human sizes with one decimal and binary units, moving to the next unit only above 1024 of it
// (`50.0GiB`, and `1024.0MiB` for exactly 1 GiB, as /file print shows it); rates in decimal bits
// per second (`12.8Mbps`).

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

export function groupDigits(value: number | bigint): string {
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  let unit = 0;
  let value = bytes;
  while (unit < SIZE_UNITS.length - 1 && value > 1024) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)}${SIZE_UNITS[unit]}`;
}

export function humanRate(bitsPerSecond: number): string {
  if (bitsPerSecond < 1000) return `${Math.round(bitsPerSecond)}bps`;
  const units = ['kbps', 'Mbps', 'Gbps'] as const;
  let value = bitsPerSecond / 1000;
  let unit = 0;
  while (unit < units.length - 1 && value >= 1000) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)}${units[unit]}`;
}

const SIZE_SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/**
 * Parses a size argument (`file-size=10G`, `512M`, `1073741824`, `1.5GiB`) to bytes; undefined
 * when it is not one. Fractions must land on a whole byte.
 */
export function parseSizeArgument(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(|k|K|M|G|T|KiB|MiB|GiB|TiB)$/.exec(text);
  if (match === null) return undefined;
  const bytes = Number(match[1]) * (SIZE_SUFFIX[match[2] ?? ''] ?? Number.NaN);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
