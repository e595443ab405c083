// visualize.mjs: `npm run visualize` writes the state diagrams of src/machines to visualizations/.
// test/visualizations.test.ts fails when a committed diagram no longer matches its machine.
import { writeFileSync } from 'node:fs';

const { mermaidOf } = await import('../src/machines/diagram.ts');
const { DIAGRAMS } = await import('../visualizations/diagrams.ts');
for (const diagram of DIAGRAMS) {
  writeFileSync(diagram.path, diagram.render(mermaidOf));
  console.log(`written: ${diagram.path}`);
}
