// file-parser.ts: turns `/file print detail` output into file records with normalised paths.
//
// /file names carry no leading slash while /disk file-path does (routeros-cli.md 4.6 quirk 8); an
// unnormalised comparison once deleted live volume files (field-lessons #2), so every path leaves
// here with exactly one leading slash.
import { RdsParseError } from '../../errors.js';
import type { RdsFile } from '../../ports.js';
import { parseHumanSize } from './disk-parser.js';
import { parsePrintDetail } from './print-detail.js';

export function parseFilePrintDetail(output: string): RdsFile[] {
  return parsePrintDetail(output).map((item) => {
    const name = item.fields.get('name');
    const type = item.fields.get('type');
    if (name === undefined || type === undefined || name === '') {
      throw new RdsParseError(
        `unexpected /file output at line ${item.line}: expected name= and type=`,
        { line: item.line },
      );
    }
    const size = item.fields.get('size');
    return {
      path: `/${name.replace(/^\/+/, '')}`,
      isDirectory: type === 'directory',
      approxSizeBytes: size === undefined ? undefined : parseHumanSize(size),
    };
  });
}
