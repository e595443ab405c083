// bench-result.ts: one measured figure, its goal, and the ratio measured beside it in the same run.
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Further figures of the same measurement (percentiles, totals). */
  readonly detail?: string;
  readonly goal: string;
  readonly met: boolean;
  readonly ratio: { readonly label: string; readonly value: number };
}
