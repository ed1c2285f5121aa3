import { httpGet } from '../../src/processes.js'

export interface Sample {
  readonly metric: Record<string, string>
  readonly value: [number, string]
}

/** An instant query through Prometheus's HTTP API; throws on a query error. */
export async function query(prometheusUrl: string, expr: string): Promise<Sample[]> {
  const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`
  const { status, body } = await httpGet(url, 10_000)
  const parsed = JSON.parse(body) as {
    status: string
    error?: string
    data?: { resultType: string; result: Sample[] }
  }
  if (status !== 200 || parsed.status !== 'success') {
    throw new Error(`query failed (${status}): ${parsed.error ?? body}\n${expr}`)
  }
  const { resultType, result } = parsed.data ?? { resultType: 'vector', result: [] }
  if (resultType === 'scalar') return [{ metric: {}, value: result as unknown as [number, string] }]
  return result
}

export interface ActiveAlert {
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
  readonly state: 'pending' | 'firing'
  readonly activeAt: string
}

/** Alerts that Prometheus holds pending or firing. */
export async function alerts(prometheusUrl: string): Promise<ActiveAlert[]> {
  const { body } = await httpGet(`${prometheusUrl}/api/v1/alerts`, 10_000)
  return (JSON.parse(body) as { data: { alerts: ActiveAlert[] } }).data.alerts
}

/** Alertmanagers that Prometheus sends to. */
export async function activeAlertmanagers(prometheusUrl: string): Promise<string[]> {
  const { body } = await httpGet(`${prometheusUrl}/api/v1/alertmanagers`, 10_000)
  const parsed = JSON.parse(body) as { data: { activeAlertmanagers: Array<{ url: string }> } }
  return parsed.data.activeAlertmanagers.map((a) => a.url)
}
