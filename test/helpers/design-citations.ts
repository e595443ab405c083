// design-citations.ts: finds citations of the design notes (docs/design/) in repository text and
// resolves each against the numbered headings and table rows of the file it names, so a comment
// cannot point at a lesson, section or rule that does not exist.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const DESIGN_DIR = 'docs/design';

/**
 * The short names comments used before the notes moved into the repository, and the file each is
 * now. Recognised so that every old citation is proven to have a target here.
 */
export const LEGACY_NAMES: Readonly<Record<string, string>> = {
  'field-lessons': 'field-lessons.md',
  'routeros-cli': 'routeros-cli.md',
  'seed-decisions': 'decisions.md',
  'csi-conformance': 'csi-conformance.md',
  'xstate.md': 'xstate.md',
  'real-kubelet': 'kubelet.md',
  'STYLE.md': 'style.md',
};

/** One place in a design file: a numbered heading, optionally a numbered row of its table. */
export interface Place {
  readonly section: string;
  readonly row?: string;
}

export interface Citation {
  /** The repository file the citation was found in. */
  readonly from: string;
  readonly line: number;
  /** The citation as written, for messages. */
  readonly text: string;
  /** The design file it names, relative to docs/design (`field-lessons.md`). */
  readonly file: string;
  readonly places: readonly Place[];
  /** Written with a name that points outside the repository (`field-lessons #2`, `STYLE.md`). */
  readonly legacy: boolean;
}

/** A design file's numbered headings, each with the numbers of its table rows. */
export type DesignIndex = ReadonlyMap<string, ReadonlySet<string>>;

const HEADING = /^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/;
const TABLE_ROW = /^\|\s*(\d+)\s*\|/;

export function indexDesignFile(markdown: string): DesignIndex {
  const index = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    if (line.startsWith('#')) {
      const number = HEADING.exec(line)?.[1];
      current = number === undefined ? undefined : new Set<string>();
      if (number !== undefined && current !== undefined) index.set(number, current);
      continue;
    }
    const row = TABLE_ROW.exec(line)?.[1];
    if (row !== undefined) current?.add(row);
  }
  return index;
}

const ITEM = String.raw`(?:#\d+|rule\s+\d+|pitfall\s+\d+|\d+(?:\.\d+)*(?:\s+quirk\s+\d+)?)`;
const SECTION_WORD = String.raw`(?:sections?\s+)?`;
/** Blank space, including the comment marker that starts a wrapped comment line. */
const GAP = String.raw`(?:\s|(?<=\n[ \t]*)(?:\/\/|\*|#)(?=\s))*`;
const LOCATOR = new RegExp(
  String.raw`^${GAP}${SECTION_WORD}${ITEM}(?:${GAP}(?:,|and|-|–)${GAP}${SECTION_WORD}${ITEM})*`,
);
const ITEMS = new RegExp(ITEM, 'g');

const LEGACY_HEAD = String.raw`(?:\.\./shared/(?:reference/)?)?(?<legacy>field-lessons|routeros-cli|seed-decisions|csi-conformance|real-kubelet|xstate\.md|STYLE\.md)(?:\.md)?`;
const DESIGN_HEAD = String.raw`(?:\[[^\]\n]*\]\()?(?:\.\./)*(?<design>docs/design/[\w.-]+\.md)\)?`;
/** Inside docs/design, files link each other relatively: every link target must exist. */
const LINK_HEAD = String.raw`\[[^\]\n]*\]\((?<sibling>[\w.-]+\.md)\)`;

const escape = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function headPattern(siblings: readonly string[] | undefined): RegExp {
  const heads = [DESIGN_HEAD];
  if (siblings !== undefined) {
    heads.push(LINK_HEAD);
    // ...and cite each other by bare name (`field-lessons.md #2`).
    if (siblings.length > 0) heads.push(`(?<sibling2>${siblings.map(escape).join('|')})`);
  }
  heads.push(LEGACY_HEAD);
  return new RegExp(`(?<![\\w./-])(?:${heads.join('|')})`, 'g');
}

/**
 * Every citation of a design file in one file's text. `designNames` are the files in docs/design,
 * which cite each other by bare name.
 */
export function findCitations(
  from: string,
  text: string,
  designNames: readonly string[] = [],
): Citation[] {
  const insideDesign = from.startsWith(`${DESIGN_DIR}/`);
  const found: Citation[] = [];
  for (const match of text.matchAll(headPattern(insideDesign ? designNames : undefined))) {
    const groups = match.groups ?? {};
    const legacyName = groups['legacy'];
    const file =
      groups['design']?.slice(DESIGN_DIR.length + 1) ??
      groups['sibling'] ??
      groups['sibling2'] ??
      (legacyName === undefined ? undefined : LEGACY_NAMES[legacyName]);
    if (file === undefined) continue;
    const end = match.index + match[0].length;
    const locator = LOCATOR.exec(text.slice(end, end + 200))?.[0] ?? '';
    found.push({
      from,
      line: text.slice(0, match.index).split('\n').length,
      text: (match[0] + locator).replace(/\s+/g, ' '),
      file,
      places: [...locator.matchAll(ITEMS)].map((m) => placeOf(m[0], file)),
      legacy: legacyName !== undefined,
    });
  }
  return found;
}

function placeOf(item: string, file: string): Place {
  const words = item.split(/\s+/);
  if (item.startsWith('#')) return { section: item.slice(1) };
  if (words[0] === 'rule') return { section: words[1] ?? '' };
  // The pitfalls are section 7 of the CSI notes; old comments numbered them on their own.
  if (words[0] === 'pitfall')
    return { section: file === 'csi-conformance.md' ? `7.${words[1]}` : `pitfall ${words[1]}` };
  if (words[1] === 'quirk') return { section: words[0] ?? '', row: words[2] ?? '' };
  return { section: item };
}

/** What is wrong with a citation, given the index of every design file; undefined when nothing. */
export function problemWith(
  citation: Citation,
  designFiles: ReadonlyMap<string, DesignIndex>,
): string | undefined {
  const index = designFiles.get(citation.file);
  const where = `${citation.from}:${citation.line} cites "${citation.text}"`;
  if (index === undefined) return `${where}, but ${DESIGN_DIR}/${citation.file} does not exist`;
  for (const place of citation.places) {
    const rows = index.get(place.section);
    if (rows === undefined)
      return `${where}, but ${citation.file} has no heading numbered ${place.section}`;
    if (place.row !== undefined && !rows.has(place.row))
      return `${where}, but section ${place.section} of ${citation.file} has no row ${place.row}`;
  }
  return undefined;
}

/** Where citations may be written: the brief's list of places, and files at the root. */
const ROOTS = ['src', 'test', 'scripts', 'bench', 'docs', 'deploy', 'visualizations', '.ci'];
const SKIP = new Set(['node_modules', 'dist', '.tools', 'generated', 'package-lock.json']);

/** Text files of the repository that may cite the design notes, relative to `root`. */
export function repositoryTextFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name)) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(root, path));
    }
  };
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (ROOTS.includes(name)) walk(path);
    else if (!SKIP.has(name) && statSync(path).isFile()) files.push(name);
  }
  return files.filter((file) => !readFileSync(join(root, file)).includes(0));
}

/** Every design file under `root`, indexed by its name relative to docs/design. */
export function loadDesignFiles(root: string): Map<string, DesignIndex> {
  const dir = join(root, DESIGN_DIR);
  return new Map(
    readdirSync(dir)
      .filter((name) => name.endsWith('.md'))
      .map((name) => [name, indexDesignFile(readFileSync(join(dir, name), 'utf8'))]),
  );
}

const OUR_PATH = /`((?:src|test|bench|scripts|deploy|visualizations)\/[^`\s]*)`/g;

/** Paths into this repository's own folders that a markdown text names in backticks. */
export function repositoryPathsNamed(markdown: string): string[] {
  return [...new Set([...markdown.matchAll(OUR_PATH)].map((m) => m[1] ?? ''))];
}
