import { readFile, readdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { parse } from 'yaml'
import { grafanaDir, ruleTestsDir, rulesDir } from '../../src/paths.js'

export interface Rule {
  readonly alert?: string
  readonly record?: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
}

export interface RuleRef {
  readonly file: string
  readonly group: string
  readonly rule: Rule
}

async function yamlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.yml')).map((f) => join(dir, f))
}

export async function ruleFiles(): Promise<string[]> {
  return yamlFiles(rulesDir)
}

export async function ruleTestFiles(): Promise<string[]> {
  return yamlFiles(ruleTestsDir)
}

export async function loadRuleGroups(
  file: string,
): Promise<Array<{ name: string; rules: Rule[] }>> {
  const doc = parse(await readFile(file, 'utf8')) as {
    groups: Array<{ name: string; rules: Rule[] }>
  }
  return doc.groups
}

export async function loadRules(): Promise<RuleRef[]> {
  const refs: RuleRef[] = []
  for (const file of await ruleFiles()) {
    for (const group of await loadRuleGroups(file)) {
      for (const rule of group.rules) refs.push({ file: basename(file), group: group.name, rule })
    }
  }
  return refs
}

export interface AlertCase {
  readonly eval_time: string
  readonly alertname: string
  readonly exp_alerts?: Array<{
    exp_labels?: Record<string, string>
    exp_annotations?: Record<string, string>
  }>
}

export interface RuleTestFile {
  readonly file: string
  readonly rule_files: string[]
  readonly tests: Array<{ name?: string; alert_rule_test?: AlertCase[] }>
}

export async function loadRuleTests(): Promise<RuleTestFile[]> {
  const out: RuleTestFile[] = []
  for (const file of await ruleTestFiles()) {
    const doc = parse(await readFile(file, 'utf8')) as Omit<RuleTestFile, 'file'>
    out.push({ ...doc, file: basename(file) })
  }
  return out
}

interface Target {
  readonly expr?: string
  readonly refId?: string
}
export interface Panel {
  readonly id: number
  readonly type: string
  readonly title: string
  readonly datasource?: { type?: string; uid?: string }
  readonly targets?: Target[]
  readonly panels?: Panel[]
  readonly gridPos: { x: number; y: number; w: number; h: number }
}
export interface Variable {
  readonly name: string
  readonly type: string
  readonly query?: string | { query?: string }
}
export interface Dashboard {
  readonly uid: string
  readonly title: string
  readonly panels: Panel[]
  readonly templating: { list: Variable[] }
}

export const dashboardsDir = join(grafanaDir, 'dashboards')

export async function loadDashboards(): Promise<Array<{ file: string; dashboard: Dashboard }>> {
  const files = (await readdir(dashboardsDir)).filter((f) => f.endsWith('.json'))
  return Promise.all(
    files.map(async (file) => ({
      file,
      dashboard: JSON.parse(await readFile(join(dashboardsDir, file), 'utf8')) as Dashboard,
    })),
  )
}

/** Panels of a dashboard, those inside collapsed rows included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
}

export interface DashboardQuery {
  readonly dashboard: string
  readonly where: string
  /** The expression as Prometheus would receive it, Grafana's variables filled in. */
  readonly expr: string
}

/** Grafana's built-in intervals and the dashboards' own variables, as a query would carry them. */
export function fillGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}|\$\{__interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{?[a-zA-Z_]\w*\}?|\[\[[a-zA-Z_]\w*\]\]/g, '.*')
}

/** Every PromQL expression of a dashboard: panel targets and the variables' label_values(). */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = []
  for (const panel of allPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      if (!target.expr) continue
      queries.push({
        dashboard: dashboard.uid,
        where: `panel "${panel.title}" (${panel.id}) target ${target.refId ?? '?'}`,
        expr: fillGrafanaVariables(target.expr),
      })
    }
  }
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue
    const raw = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '')
    const inner = /^label_values\((.*),\s*[a-zA-Z_]\w*\)$/.exec(raw.trim())?.[1] ?? raw
    queries.push({
      dashboard: dashboard.uid,
      where: `variable ${variable.name}`,
      expr: fillGrafanaVariables(inner),
    })
  }
  return queries
}
