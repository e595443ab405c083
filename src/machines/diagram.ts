// diagram.ts: a Mermaid state diagram of a machine, generated from the machine itself (issue 13:
// `visualizations/`), so the picture cannot drift from the policy. Guards and delayed
// transitions are labelled; `always` transitions (which xstate/graph leaves out) are added.
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { toDirectedGraph } from 'xstate/graph';

function short(id: string): string {
  return id.split('.').slice(1).join('.') || id;
}

function label(event: string, guard: string | undefined): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(event);
  const name = after ? `after ${after[1] ?? ''}` : event;
  return guard === undefined ? name : `${name} [${guard}]`;
}

function guardName(transition: unknown): string | undefined {
  const guard = (transition as { guard?: unknown } | undefined)?.guard;
  if (typeof guard === 'string') return guard;
  const type = (guard as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' ? type : undefined;
}

export function mermaidOf(machine: AnyStateMachine): string {
  const graph = toDirectedGraph(machine);
  const initial = machine.config.initial;
  const lines = ['stateDiagram-v2', `  [*] --> ${typeof initial === 'string' ? initial : '?'}`];
  for (const node of graph.children) {
    for (const edge of node.edges) {
      const event = edge.label.text;
      if (event === 'RESUME') continue; // re-arms a timer after a restore; not a policy step
      lines.push(
        `  ${short(edge.source.id)} --> ${short(edge.target.id)}: ${label(event, guardName(edge.transition))}`,
      );
    }
    const stateNode = (node as unknown as { stateNode: AnyStateNode }).stateNode;
    for (const transition of stateNode.always ?? []) {
      for (const target of transition.target ?? []) {
        lines.push(
          `  ${short(stateNode.id)} --> ${short(target.id)}: always${guardName(transition) ? ` [${guardName(transition) ?? ''}]` : ''}`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
