#!/usr/bin/env node
// cli.ts: the executable entry (`rds-csi-ts`). Hands the process's argv, env, streams and
// signals to main() and exits with its code; all other modules receive these as arguments.
import { main } from './main.js';

process.on('unhandledRejection', (reason) => {
  // A bug: no promise in the driver may float (lint rule). Crash loudly rather than run on in an
  // unknown state; the supervisor (kubelet) restarts us and state is rebuilt from the cluster.
  process.stderr.write(
    `rds-csi-ts: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`,
  );
  process.exit(1);
});

const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  onSignal: (signal, handler) => process.on(signal, handler),
  cwd: process.cwd(),
});
process.exit(code);
