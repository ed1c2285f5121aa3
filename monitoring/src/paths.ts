import { fileURLToPath } from 'node:url'

/** The monitoring workspace (this file lives in its src/). */
export const monitoringDir = fileURLToPath(new URL('..', import.meta.url))
/** The repository root, one level above the workspace. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

export const prometheusDir = `${monitoringDir}prometheus`
export const rulesDir = `${prometheusDir}/rules`
export const ruleTestsDir = `${prometheusDir}/tests`
export const alertmanagerDir = `${monitoringDir}alertmanager`
export const grafanaDir = `${monitoringDir}grafana`
export const runbookFile = `${monitoringDir}runbook.md`
