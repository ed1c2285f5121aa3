import type { Counter, Histogram } from 'prom-client'

/**
 * The metrics the domain services report to through their observers (createServices). The
 * metrics plugin registers them, with the HTTP layer's own, on each app instance's registry.
 */
export interface ServiceMetrics {
  readonly admissions: Counter<'outcome'>
  readonly admissionBatch: Histogram
  readonly decisionWait: Histogram<'paused'>
  readonly admissionErrors: Counter
  readonly cacheRepairs: Counter
  readonly reflectionFailures: Counter
  readonly watchRounds: Histogram
  readonly watchUpdates: Counter
}
