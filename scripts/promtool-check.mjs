// promtool-check.mjs: checks the alert rules and the dashboard; exits 1 listing every problem.
// promtool checks and unit-tests deploy/prometheus/rules.yaml and parses every dashboard query; the
// PrometheusRule must embed the same groups; each alert needs a severity, a summary, a description
// and a test; metric names must match src/observability/metrics.ts, and the dashboard must show
// every metric there (STYLE.md rule 18).
//   node scripts/promtool-check.mjs      (promtool from `bash scripts/tools.sh ensure`)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const promtool = join(root, '.tools/bin/promtool');
const RULES = 'deploy/prometheus/rules.yaml';
const RULE_TESTS = 'deploy/prometheus/rules.test.yaml';
const PROMETHEUS_RULE = 'deploy/prometheus/rds-csi-ts-alerts.yaml';
const DASHBOARD = 'deploy/grafana/rds-csi-ts-dashboard.json';
const METRICS = 'src/observability/metrics.ts';
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

const problems = [];
const read = (path) => readFileSync(join(root, path), 'utf8');

/** Runs promtool with its output shown; returns whether it passed (a failure is one problem). */
function runPromtool(args) {
  console.log(`$ promtool ${args.join(' ')}`);
  const result = spawnSync(promtool, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  if (result.status === 0) return true;
  const why = result.error?.message ?? `exit ${result.status ?? result.signal}`;
  problems.push(`promtool ${args.join(' ')} failed (${why})`);
  return false;
}

/** Metric names defined in metrics.ts, each with its prom-client type. */
function definedMetrics() {
  const defined = new Map();
  for (const m of read(METRICS).matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '([^']+)'/g)) {
    defined.set(m[2], m[1]);
  }
  if (defined.size === 0) problems.push(`${METRICS}: found no metric definitions to check against`);
  return defined;
}

/** Every rds_csi_ name in `expr` must be a defined metric, or a histogram's _bucket/_sum/_count. */
function checkNames(where, expr, defined) {
  for (const [name] of expr.matchAll(/rds_csi_[a-z0-9_]+/g)) {
    if (defined.has(name)) continue;
    const base = name.replace(HISTOGRAM_SERIES, '');
    if (base !== name && defined.get(base) === 'Histogram') continue;
    const hint = defined.has(base) ? ` (${base} is a ${defined.get(base)}, not a histogram)` : '';
    problems.push(`${where}: ${name} is not a metric in ${METRICS}${hint}`);
  }
}

function checkRules(defined) {
  const groups = parse(read(RULES)).groups;
  const wrapper = parse(read(PROMETHEUS_RULE));
  if (wrapper.kind !== 'PrometheusRule' || wrapper.apiVersion !== 'monitoring.coreos.com/v1') {
    problems.push(`${PROMETHEUS_RULE}: expected a monitoring.coreos.com/v1 PrometheusRule`);
  }
  if (!isDeepStrictEqual(wrapper.spec?.groups, groups)) {
    problems.push(`${PROMETHEUS_RULE}: spec.groups differ from the groups of ${RULES}; copy them`);
  }
  const tested = new Set(
    parse(read(RULE_TESTS)).tests.flatMap((t) => (t.alert_rule_test ?? []).map((a) => a.alertname)),
  );
  for (const rule of groups.flatMap((g) => g.rules)) {
    const where = `${RULES} ${rule.alert ?? rule.record}`;
    checkNames(where, rule.expr, defined);
    if (rule.alert === undefined) continue;
    if (!rule.labels?.severity) problems.push(`${where}: no severity label`);
    if (!rule.annotations?.summary || !rule.annotations?.description) {
      problems.push(`${where}: needs both summary and description annotations`);
    }
    if (!tested.has(rule.alert)) problems.push(`${where}: no alert_rule_test in ${RULE_TESTS}`);
  }
}

/** Panels nest inside collapsed rows; every target with an expr counts. */
function* panelTargets(panels) {
  for (const panel of panels ?? []) {
    for (const target of panel.targets ?? []) yield { panel, target };
    yield* panelTargets(panel.panels);
  }
}

/** The dashboard's queries, each with where it sits; undefined when the file is not JSON. */
function dashboardExprs() {
  let dashboard;
  try {
    dashboard = JSON.parse(read(DASHBOARD));
  } catch (error) {
    problems.push(`${DASHBOARD}: not valid JSON (${error.message})`);
    return undefined;
  }
  const exprs = [...panelTargets(dashboard.panels)]
    .filter(({ target }) => typeof target.expr === 'string')
    .map(({ panel, target }) => ({
      where: `${DASHBOARD} panel "${panel.title}" ${target.refId}`,
      expr: target.expr,
    }));
  if (exprs.length === 0) problems.push(`${DASHBOARD}: no PromQL expressions found`);
  return exprs;
}

/** Rule 18 both ways: a metric the table defines and no panel shows is a gap in the dashboard. */
function checkDashboardCoverage(exprs, defined) {
  const shown = new Set(
    exprs.flatMap(({ expr }) =>
      [...expr.matchAll(/rds_csi_[a-z0-9_]+/g)].map(([name]) =>
        defined.has(name) ? name : name.replace(HISTOGRAM_SERIES, ''),
      ),
    ),
  );
  for (const name of defined.keys()) {
    if (!shown.has(name)) problems.push(`${DASHBOARD}: no panel shows ${name} (${METRICS})`);
  }
}

/**
 * promtool parses the queries as recording rules, with Grafana's range variables made concrete,
 * so a syntax error fails here rather than as an empty panel.
 */
function checkDashboardSyntax(exprs) {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-exprs-'));
  try {
    const rules = exprs.map(({ expr }, i) => ({
      record: `dashboard:expr_${i}`,
      expr: expr.replace(/\$__(rate_interval|range|interval)\b/g, '5m'),
    }));
    const file = join(dir, 'dashboard-exprs.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    if (!runPromtool(['check', 'rules', file])) {
      console.error('where each dashboard:expr_N comes from:');
      exprs.forEach(({ where }, i) => console.error(`  dashboard:expr_${i}: ${where}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const defined = definedMetrics();
checkRules(defined);
const exprs = dashboardExprs() ?? [];
for (const { where, expr } of exprs) checkNames(where, expr, defined);
checkDashboardCoverage(exprs, defined);
if (existsSync(promtool)) {
  runPromtool(['check', 'rules', RULES]);
  runPromtool(['test', 'rules', RULE_TESTS]);
  if (exprs.length > 0) checkDashboardSyntax(exprs);
} else {
  problems.push(`${promtool} is missing: run bash scripts/tools.sh ensure`);
}

if (problems.length > 0) {
  console.error(`\npromtool-check: ${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exitCode = 1;
} else {
  console.log('\npromtool-check: rules, rule tests, PrometheusRule and dashboard are consistent');
}
