// stately-inspector.ts: `--inspect <port>` streams the attachment actors to the Stately inspector
// (@statelyai/inspect): a small server on the port relays a WebSocket between this process and a
// browser page that frames the Stately web app (xstate.md section 5). Opt-in: its inspect defers
// every event with a timer, which costs at 10,000 volumes. Operators reach it with
// `kubectl port-forward <controller pod> <port>` and open http://localhost:<port>.
import { createServer } from 'node:net';

import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import type { InspectionEvent } from 'xstate';

import { InvalidConfigError } from '../errors.js';
import type { Logger } from '../ports.js';

export interface StatelyInspector {
  readonly port: number;
  /** Every inspection event of every actor goes here. */
  readonly inspect: (event: InspectionEvent) => void;
  readonly stop: () => void;
}

/** Whether `port` can be listened on (the library's server has no error handler of its own). */
async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

export async function startStatelyInspector(port: number, log: Logger): Promise<StatelyInspector> {
  if (!(await portFree(port))) {
    throw new InvalidConfigError([`--inspect ${port}: the port is in use`]);
  }
  const server = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
  log.warn('Stately inspector on; every actor event is streamed (opt-in: costs at scale)', {
    open: `http://localhost:${port} (through kubectl port-forward in a cluster)`,
  });
  return {
    port,
    inspect: (event) => inspector.inspect.next?.(event),
    stop: () => {
      inspector.stop();
      server.stop();
    },
  };
}
