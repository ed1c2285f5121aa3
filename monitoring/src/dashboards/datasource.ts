import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'

/**
 * Every panel and query reads the data source chosen in the `datasource` variable, whose default
 * is the provisioned Prometheus (grafana/provisioning/datasources/prometheus.yml, uid
 * `prometheus`): a copy of a dashboard can be pointed at another Prometheus without editing it.
 */
export const datasource: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' }

/** The `datasource` variable: Prometheus data sources, the provisioned one by default. */
export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource')
    .label('Data source')
    .type('prometheus')
    .hide(dashboard.VariableHide.DontHide)
    .regex('')
}

/**
 * A multi-value variable of a label's values, All by default (`.*`): `label_values(series, label)`,
 * refreshed when the time range changes so that new instances and courses appear.
 */
export function labelValuesVariable(
  name: string,
  label: string,
  series: string,
  labelName: string,
): dashboard.QueryVariableBuilder {
  const query = `label_values(${series}, ${labelName})`
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(datasource)
    .query({ query, refId: `${name}-var` })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .includeAll(true)
    .multi(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] })
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .hide(dashboard.VariableHide.DontHide)
    .regex('')
}
