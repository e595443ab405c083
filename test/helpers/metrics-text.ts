// metrics-text.ts: reading a driver's /metrics (Prometheus text format) in tests.

/** Prometheus text -> `name{labels}` -> value (labels as the registry prints them). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The value of one series, e.g. `rds_csi_rpc_total{method="CreateVolume",code="OK"}`; undefined if absent. */
export function sample(text: string, series: string): number | undefined {
  return parseMetrics(text).get(series);
}
