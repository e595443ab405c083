// The committed diagrams match the machines they were generated from (npm run visualize).
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { mermaidOf } from '../src/machines/diagram.js';
import { DIAGRAMS } from '../visualizations/diagrams.js';

describe('visualizations', () => {
  it.each(DIAGRAMS.map((d) => [d.path, d] as const))('%s is fresh', (path, diagram) => {
    expect(readFileSync(path, 'utf8'), 'run npm run visualize').toBe(diagram.render(mermaidOf));
  });

  it('draws every state and the three delayed transitions', () => {
    const text = DIAGRAMS[0]?.render(mermaidOf) ?? '';
    for (const state of [
      'detached',
      'attached',
      'migrating',
      'detaching',
      'grace',
      'stale',
      'conflict',
    ]) {
      expect(text).toContain(state);
    }
    for (const delay of ['after grace', 'after migrationTimeout', 'after staleGrace'])
      expect(text).toContain(delay);
    expect(text).toContain('attached --> migrating: PUBLISH [mayStartMigration]');
  });

  it("the README's copy of the volume attachment diagram is the generated one", () => {
    const readme = readFileSync('README.md', 'utf8');
    const copy = /<!-- diagram:volume-attachment -->([\s\S]*?)<!-- \/diagram -->/.exec(readme)?.[1];
    const generated = /```mermaid[\s\S]*?```/.exec(DIAGRAMS[0]?.render(mermaidOf) ?? '')?.[0];
    expect(generated).toBeDefined();
    expect(copy?.trim(), 'copy the diagram from visualizations/volume-attachment.md').toBe(
      generated,
    );
  });
});
