// option-row.ts: what one row of the option table says besides its value schema: the flag, the
// help text, the accepted form quoted in error messages, and the default. Rows are zod schemas
// registered with this metadata, so the table is at once a zod object shape (the Config type is
// inferred from it) and the source of --help, env names and messages.
import { z } from 'zod';

import type { Raw } from './values.js';

export interface OptionMeta {
  /** Commander flag text, e.g. `--mode <mode>`. */
  readonly flags: string;
  readonly description: string;
  /** The accepted form, quoted in error messages and --help. */
  readonly accepts: string;
  /** Absent: the option is undefined unless set (its schema is optional). */
  readonly defaultValue?: Raw;
  /** Not settable from the YAML file (e.g. the path of the file itself). */
  readonly cliOnly?: boolean;
}

export const OPTION_META = z.registry<OptionMeta>();

/** A table row: a copy of `schema` carrying `meta` (shared schemas such as `bool` stay unmarked). */
export function option<S extends z.ZodType>(schema: S, meta: OptionMeta): S {
  const row = schema.clone();
  OPTION_META.add(row, meta);
  return row;
}
