// file-parser.ts: turns `/file print detail` output into file records with normalised paths.
//
// /file names carry no leading slash while /disk file-path does (routeros-cli.md 4.6 quirk 8); an
// unnormalised comparison once deleted live volume files (field-lessons #2), so every path leaves
// here with exactly one leading slash. A printed size that is not a size is refused, not read as
// "unknown" (the same week, sizes were misread as "1034 bytes" for ~11 GB).
import { RdsParseError } from '../../errors.js';
import type { RdsFile } from '../../ports.js';
import { parseHumanSize } from './disk-parser.js';
import { excerpt, parsePrintDetail, type DetailItem } from './print-detail.js';

function fail(item: DetailItem, message: string): never {
  throw new RdsParseError(`unexpected /file output at line ${item.line}: ${message}`, {
    line: item.line,
  });
}

function required(item: DetailItem, key: string): string {
  const value = item.fields.get(key);
  if (value === undefined) fail(item, `missing ${key}=`);
  return value;
}

export function parseFilePrintDetail(output: string): RdsFile[] {
  return parsePrintDetail(output).map((item) => {
    const name = item.fields.get('name');
    const type = item.fields.get('type');
    if (name === undefined || type === undefined || name === '')
      fail(item, 'expected name= and type=');
    // A name printed unquoted runs to the next key: with a space in it, a line break and a space
    // inside the name look alike, so the name could not be read for certain.
    if (/\s/.test(name)) fail(item, `name ${excerpt(name)} contains whitespace`);
    const isDirectory = type === 'directory';
    // Every file prints its size (4.3); one without it was cut short.
    const size = isDirectory ? item.fields.get('size') : required(item, 'size');
    const approxSizeBytes = size === undefined ? undefined : parseHumanSize(size);
    if (size !== undefined && approxSizeBytes === undefined)
      fail(item, `size=${excerpt(size)} is not a size like 10.0GiB`);
    return {
      path: `/${name.replace(/^\/+/, '')}`,
      isDirectory,
      approxSizeBytes,
    };
  });
}
