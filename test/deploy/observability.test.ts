// The alert rules and the Grafana dashboard are artifacts users apply, so they are tested as such:
// promtool lints the rules and proves each alert fires and stays silent (vigil.rules.test.yaml);
// the PrometheusRule carries the same groups as the plain rule file; and a real Prometheus scrapes
// a running vigil, after which every PromQL expression of the dashboard returns data and every
// alert expression evaluates.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, tempConfig, type Served } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const RULES = 'deploy/prometheus/vigil.rules.yaml';
const RULE_TESTS = 'deploy/prometheus/vigil.rules.test.yaml';
const rules = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
const dashboard = JSON.parse(readFileSync('deploy/grafana/vigil-dashboard.json', 'utf8'));

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const result = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(result.error, 'promtool (Debian package prometheus) must be installed').toBeUndefined();
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it('fire, and stay silent, as their promtool unit tests say', () => {
    const result = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    // Every alert has a test that makes it fire.
    const tests = parseYaml(readFileSync(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((alert) => !firing.has(alert))).toEqual([]);
  });

  it('are the same in the PrometheusRule for the Prometheus Operator', () => {
    const object = parseYaml(readFileSync('k8s/components/prometheus-operator/prometheusrule.yaml', 'utf8'));
    expect(object.spec.groups).toEqual(rules.groups);
  });
});

/** The shape Grafana requires of a dashboard and its panels, per its dashboard JSON model. */
const target = z.object({ refId: z.string().min(1), expr: z.string().min(1), datasource: z.object({ type: z.literal('prometheus'), uid: z.string() }) });
const gridPos = z.object({ x: z.number().int().min(0).max(23), y: z.number().int().min(0), w: z.number().int().min(1).max(24), h: z.number().int().min(1) });
const panelSchema = z.union([
  z.object({ id: z.number().int(), type: z.literal('row'), title: z.string(), gridPos, collapsed: z.boolean(), panels: z.array(z.unknown()) }),
  z.object({ id: z.number().int(), type: z.enum(['timeseries', 'state-timeline', 'stat', 'table']), title: z.string().min(1), gridPos, targets: z.array(target).min(1), fieldConfig: z.object({ defaults: z.record(z.string(), z.unknown()), overrides: z.array(z.unknown()) }) }),
]);
const dashboardSchema = z.object({
  uid: z.string().min(1).max(40),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(30),
  editable: z.boolean(),
  graphTooltip: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.enum(['datasource', 'query']) })) }),
  annotations: z.object({ list: z.array(z.unknown()) }),
  panels: z.array(panelSchema).min(1),
});

type Panel = { id: number; type: string; title: string; targets?: { expr: string }[] };
const panels = (dashboard.panels as Panel[]).filter((p) => p.type !== 'row');
const variables = dashboard.templating.list as { name: string; type: string; query: { query: string } | string }[];

describe('Grafana dashboard', () => {
  it('has the fields Grafana requires, unique panel ids and no overlapping panels', () => {
    dashboardSchema.parse(dashboard);
    const ids = (dashboard.panels as Panel[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const { gridPos: g } of dashboard.panels as { gridPos: z.infer<typeof gridPos> }[]) {
      expect(g.x + g.w).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        expect(cells.has(`${x},${y}`), `panels overlap at ${x},${y}`).toBe(false);
        cells.add(`${x},${y}`);
      }
    }
  });
});

describe('against a real Prometheus that scraped a running vigil', () => {
  let agent: Served;
  let prometheus: ChildProcess;
  let api: string;
  let prometheusLog = '';

  beforeAll(async () => {
    agent = await serve(
      [
        '--config',
        tempConfig(`defaults: { interval: 500ms, timeout: 400ms }
checks:
  db: { type: postgres, url: "${PG_URL}" }
  cache: { type: redis, url: "${REDIS_URL}", critical: false }
  payments: { type: http, url: "http://127.0.0.1:${await freePort()}/health", critical: false }
`),
      ],
      await freePort(),
    );
    const dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'));
    writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\nrule_files: [${join(process.cwd(), RULES)}]\nscrape_configs:\n  - job_name: vigil\n    static_configs: [{ targets: ["127.0.0.1:${agent.port}"] }]\n`);
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v1`;
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d) => (prometheusLog += d));
    prometheus.stderr!.on('data', (d) => (prometheusLog += d));
    // 20 scrapes: enough for rate() over the dashboard's interval.
    await waitFor(`Prometheus to have scraped vigil 20 times (log: ${prometheusLog.slice(-500)})`, async () => {
      const samples = await query('count_over_time(up{job="vigil"}[1m])');
      return Number(samples[0]?.value[1] ?? 0) >= 20;
    }, 60_000, 500);
  }, 90_000);

  afterAll(() => {
    prometheus?.kill('SIGKILL');
    agent?.kill();
  });

  async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  }

  /** The dashboard's template variables as Grafana would substitute them with "All" selected. */
  const substitute = (expr: string) => expr.replace(/\$__rate_interval/g, '15s').replace(/\$(namespace|pod|check)\b/g, '.*');

  it.each(panels.map((p) => [p.title, p] as const))('dashboard panel "%s" returns data for every query', async (_title, panel) => {
    for (const { expr } of panel.targets!) {
      const result = await query(substitute(expr));
      expect(result.length, substitute(expr)).toBeGreaterThan(0);
    }
  });

  it('dashboard variables select series that exist', async () => {
    for (const variable of variables.filter((v) => v.type === 'query')) {
      const definition = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const selector = /^label_values\((.+), *\w+\)$/.exec(definition)?.[1];
      expect(selector, definition).toBeDefined();
      expect((await query(substitute(selector!))).length, definition).toBeGreaterThan(0);
    }
  });

  it('every alert expression evaluates, over series vigil really exports', async () => {
    const exported = new Set(((await (await fetch(`${api}/label/__name__/values`)).json()) as { data: string[] }).data);
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      await query(rule.expr);
      const names = [...rule.expr.matchAll(/\b(vigil_\w+|up)\b/g)].map((m) => m[1]!);
      for (const name of names) expect(exported.has(name), `${rule.alert} uses ${name}`).toBe(true);
    }
    // The rules were loaded by this Prometheus too, and evaluate without errors.
    const loaded = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const evaluated = loaded.data.groups.flatMap((g) => g.rules);
    expect(evaluated.map((r) => r.name).sort()).toEqual(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
    await waitFor('every rule evaluated', async () => {
      const again = (await (await fetch(`${api}/rules`)).json()) as typeof loaded;
      return again.data.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok');
    });
  });
});
