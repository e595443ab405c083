// design-docs.test.ts: citations of the design notes cannot dangle. Every docs/design file cited
// anywhere in the repository exists, and every lesson, section, rule or quirk a citation names is
// a numbered heading (or a numbered table row) of that file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  DESIGN_DIR,
  findCitations,
  indexDesignFile,
  loadDesignFiles,
  problemWith,
  repositoryPathsNamed,
  repositoryTextFiles,
  type Citation,
} from './helpers/design-citations.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** These two talk about citations (with made-up ones as examples) rather than make them. */
const ABOUT_CITATIONS = ['test/design-docs.test.ts', 'test/helpers/design-citations.ts'];

const designFiles = loadDesignFiles(ROOT);
const designNames = [...designFiles.keys()];
const citations = repositoryTextFiles(ROOT)
  .filter((file) => !ABOUT_CITATIONS.includes(file))
  .flatMap((file) => findCitations(file, readFileSync(join(ROOT, file), 'utf8'), designNames));

const cite = (text: string, from = 'src/example.ts') => findCitations(from, text, designNames);
const placesOf = (found: Citation[]) => found.flatMap((c) => c.places);

describe('citations of docs/design', () => {
  it('name design files that exist, and places that exist in them', () => {
    const problems = citations.map((c) => problemWith(c, designFiles)).filter(Boolean);
    expect(problems).toEqual([]);
  });

  it('are found where the code makes them', () => {
    const at = (from: string, file: string, section: string) =>
      citations.some(
        (c) => c.from === from && c.file === file && c.places.some((p) => p.section === section),
      );
    expect(at('src/rds/commands/values.ts', 'field-lessons.md', '30')).toBe(true);
    expect(at('src/node/filesystem.ts', 'field-lessons.md', '1')).toBe(true);
    expect(at('src/observability/metrics.ts', 'decisions.md', '2')).toBe(true);
    expect(at('src/csi/errors.ts', 'style.md', '5')).toBe(true);
    expect(citations.filter((c) => !c.from.startsWith(`${DESIGN_DIR}/`)).length).toBeGreaterThan(
      100,
    );
  });
});

describe('docs/design', () => {
  it('has an index that links every design file', () => {
    const index = readFileSync(join(ROOT, DESIGN_DIR, 'README.md'), 'utf8');
    for (const name of designNames.filter((n) => n !== 'README.md'))
      expect(index, name).toContain(`](${name})`);
  });

  it('numbers each heading once per file, so a citation has one target', () => {
    for (const name of designNames) {
      const text = readFileSync(join(ROOT, DESIGN_DIR, name), 'utf8');
      const numbers = [...text.matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)].map((m) => m[1]);
      expect(numbers.length - new Set(numbers).size, name).toBe(0);
    }
  });
  it('names only files of this repository that exist', () => {
    // Paths in the Go rds-csi repository that look like ours; the notes name them as sources.
    const goDriverPaths = [
      'deploy/helm/rds-csi-driver',
      'test/e2e/HARDWARE_VALIDATION.md',
      'test/mock/rds_server.go',
    ];
    for (const name of designNames) {
      const named = repositoryPathsNamed(readFileSync(join(ROOT, DESIGN_DIR, name), 'utf8'));
      const missing = named.filter((p) => !goDriverPaths.includes(p) && !existsSync(join(ROOT, p)));
      expect(missing, name).toEqual([]);
    }
  });
});

describe('reading citations', () => {
  it('reads a path followed by several places', () => {
    const [found] = cite('(docs/design/field-lessons.md #2, #3; seed notes)');
    expect(found?.file).toBe('field-lessons.md');
    expect(found?.places).toEqual([{ section: '2' }, { section: '3' }]);
    expect(found?.legacy).toBe(false);
  });

  it('reads sections, numbered table rows, rules and both ends of ranges', () => {
    expect(placesOf(cite('docs/design/routeros-cli.md 4.6 quirk 8: names'))).toEqual([
      { section: '4.6', row: '8' },
    ]);
    expect(placesOf(cite('docs/design/xstate.md section 2 says'))).toEqual([{ section: '2' }]);
    expect(placesOf(cite('docs/design/style.md rule 13)'))).toEqual([{ section: '13' }]);
    expect(placesOf(cite('docs/design/csi-conformance.md sections 3-6 for'))).toEqual([
      { section: '3' },
      { section: '6' },
    ]);
    expect(placesOf(cite('docs/design/routeros-cli.md 4.1-4.3, 4.6)'))).toEqual([
      { section: '4.1' },
      { section: '4.3' },
      { section: '4.6' },
    ]);
  });

  it('reads the old names and maps them to the files that replace them', () => {
    const found = cite(
      '(field-lessons #15-#23) (seed-decisions 5 and 7) (csi-conformance.md pitfall 2) ' +
        '(../shared/STYLE.md) (xstate.md section 5) (real-kubelet.md)',
    );
    expect(found.map((c) => [c.file, c.places.map((p) => p.section), c.legacy])).toEqual([
      ['field-lessons.md', ['15', '23'], true],
      ['decisions.md', ['5', '7'], true],
      ['csi-conformance.md', ['7.2'], true],
      ['style.md', [], true],
      ['xstate.md', ['5'], true],
      ['kubelet.md', [], true],
    ]);
  });

  it('follows a citation onto the next line of a wrapped comment', () => {
    expect(placesOf(cite('// live migration (field-lessons\n// #13, #25), through'))).toEqual([
      { section: '13' },
      { section: '25' },
    ]);
    expect(placesOf(cite('  # capacity (field-lessons\n  # 31). Needs', 'deploy/x.yaml'))).toEqual([
      { section: '31' },
    ]);
    expect(placesOf(cite(' * the reason (docs/design/style.md\n * rule 6).'))).toEqual([
      { section: '6' },
    ]);
  });

  it('takes no place from text that only follows a citation', () => {
    expect(placesOf(cite('(csi-conformance.md: their isFinalError) 12 more'))).toEqual([]);
    expect(placesOf(cite('field-lessons: events, 3 of them'))).toEqual([]);
    expect(placesOf(cite('retried (field-lessons #21) 3 times, field-lessons #2 4 more'))).toEqual([
      { section: '21' },
      { section: '2' },
    ]);
    expect(cite('import { setup } from "xstate"; a STYLE guide, style.md')).toEqual([]);
  });

  it('inside docs/design, reads relative links and bare names of sibling files', () => {
    const found = findCitations(
      'docs/design/example.md',
      'see [decisions.md](decisions.md) 4 and 10, and field-lessons.md #2; [x](missing.md)',
      designNames,
    );
    expect(found.map((c) => [c.file, c.places.map((p) => p.section)])).toEqual([
      ['decisions.md', ['4', '10']],
      ['field-lessons.md', ['2']],
      ['missing.md', []],
    ]);
  });
});

describe('resolving citations', () => {
  const index = new Map([
    [
      'notes.md',
      indexDesignFile(
        [
          '# Notes',
          '## 4. Output',
          '### 4.6 Quirks',
          '| # | Quirk |',
          '|---|---|',
          '| 8 | paths |',
          '```',
          '## 9. not a heading, inside a code block',
          '```',
          '## 5. Errors',
          '| 9 | not a row of 4.6 |',
        ].join('\n'),
      ),
    ],
  ]);
  const problem = (text: string) => {
    const [found] = findCitations('src/x.ts', text);
    return found === undefined ? 'no citation' : problemWith(found, index);
  };

  it('accepts places that exist', () => {
    expect(problem('docs/design/notes.md 4, 4.6 quirk 8, 5')).toBeUndefined();
  });

  it('names the file, heading or row that is missing', () => {
    expect(problem('docs/design/other.md 4')).toBe(
      'src/x.ts:1 cites "docs/design/other.md 4", but docs/design/other.md does not exist',
    );
    expect(problem('docs/design/notes.md 4.7')).toContain('notes.md has no heading numbered 4.7');
    expect(problem('docs/design/notes.md 9')).toContain('has no heading numbered 9');
    expect(problem('docs/design/notes.md 4.6 quirk 9')).toContain(
      'section 4.6 of notes.md has no row 9',
    );
  });
});
