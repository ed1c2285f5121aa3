import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { datasource } from './datasource.js'

// The shapes the sugang dashboards share: a time series with a table legend, a stat with a
// coloured background, and a grid that lays panels out in rows. Each returns the SDK's builder,
// so that a dashboard can change what is particular to one panel.

/** One PromQL query of a panel; its refId is its place (A, B, ...). */
export interface Query {
  readonly expr: string
  /** Grafana's legend template, e.g. `{{route}}`; empty for the series' name. */
  readonly legend?: string
}

type QueryKind = 'range' | 'instant' | 'table'

function refId(index: number): string {
  return String.fromCharCode('A'.charCodeAt(0) + index)
}

/** The queries of a panel, each on the panel's data source. */
export function targets(queries: readonly Query[], kind: QueryKind): prometheus.DataqueryBuilder[] {
  return queries.map((q, i) => {
    const target = new prometheus.DataqueryBuilder()
      .datasource(datasource)
      .expr(q.expr)
      .legendFormat(q.legend ?? '')
      .refId(refId(i))
    if (kind === 'range') return target.range()
    if (kind === 'table') return target.format(prometheus.PromQueryFormat.Table).instant()
    return target.instant()
  })
}

/** Absolute thresholds: the colour below the first step, then [from, colour] pairs. */
export function thresholds(
  base: string,
  ...steps: Array<readonly [number, string]>
): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ color: base, value: null }, ...steps.map(([value, color]) => ({ color, value }))])
}

/** A time series' dashed red line at `value`: a limit the series should stay on one side of. */
export function dashedLine(panel: timeseries.PanelBuilder, value: number): timeseries.PanelBuilder {
  return panel
    .thresholds(thresholds('green', [value, 'red']))
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    )
}

/**
 * The query `refId` drawn as a dashed red line, never stacked or filled: a limit the other
 * series are read against, which a series holds (the opening's schedule) instead of a constant.
 */
export function scheduleLine(
  panel: timeseries.PanelBuilder,
  refId: string,
): timeseries.PanelBuilder {
  return panel.overrideByQuery(refId, [
    { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    { id: 'custom.stacking', value: { mode: 'none' } },
    { id: 'custom.fillOpacity', value: 0 },
  ])
}

/** Value mappings of a 0/1 gauge to words. */
export function yesNo(no: string, yes: string): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: { '0': { text: no, index: 0 }, '1': { text: yes, index: 1 } },
    },
  ]
}

interface PanelBase {
  readonly id: number
  readonly title: string
  readonly description?: string
}

export interface TimeseriesOptions extends PanelBase {
  readonly unit: string
  readonly queries: readonly Query[]
  /** Stacked series (a total made of parts); filled more, so the parts read as areas. */
  readonly stack?: boolean
  readonly fillOpacity?: number
  readonly min?: number
  /** Legend values; last and max by default. */
  readonly calcs?: readonly string[]
}

/** A time series panel: lines, a table legend on the right, every series in the tooltip. */
export function timeseriesPanel(o: TimeseriesOptions): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .id(o.id)
    .title(o.title)
    .datasource(datasource)
    .unit(o.unit)
    .drawStyle(common.GraphDrawStyle.Line)
    .lineWidth(1)
    .fillOpacity(o.fillOpacity ?? (o.stack ? 30 : 10))
    .showPoints(common.VisibilityMode.Never)
    .stacking(
      new common.StackingConfigBuilder()
        .mode(o.stack ? common.StackingMode.Normal : common.StackingMode.None)
        .group('A'),
    )
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .calcs([...(o.calcs ?? ['lastNotNull', 'max'])])
        .showLegend(true),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .targets(targets(o.queries, 'range'))
  if (o.description) panel.description(o.description)
  if (o.min !== undefined) panel.min(o.min)
  return panel
}

export interface StatOptions extends PanelBase {
  readonly unit?: string
  /** One query, or several for one value each (named by their legend). */
  readonly queries: readonly Query[]
  readonly thresholds: dashboard.ThresholdsConfigBuilder
  readonly mappings?: dashboard.ValueMapping[]
  /** `auto` by default; `value` hides the series' name. */
  readonly textMode?: common.BigValueTextMode
}

/** A stat: the last value, its background coloured by the thresholds. */
export function statPanel(o: StatOptions): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .id(o.id)
    .title(o.title)
    .datasource(datasource)
    .unit(o.unit ?? 'short')
    .thresholds(o.thresholds)
    .reduceOptions(
      new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false),
    )
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(o.textMode ?? common.BigValueTextMode.Auto)
    .targets(targets(o.queries, 'instant'))
  if (o.description) panel.description(o.description)
  if (o.mappings) panel.mappings(o.mappings)
  return panel
}

/** What the grid places: any panel builder. */
export interface Placeable extends cog.Builder<dashboard.Panel> {
  gridPos(gridPos: dashboard.GridPos): unknown
}

/** A panel of a line, `w` of the 24 columns wide and `h` rows high. */
export interface Cell {
  readonly panel: Placeable
  readonly w: number
  readonly h: number
}

/** Panels stacked in one column of a line, each as high as it says. */
export interface Stack {
  readonly w: number
  readonly stack: ReadonlyArray<{ readonly panel: Placeable; readonly h: number }>
}

/** A row's title bar and the lines of panels under it, each line left to right. */
export interface Section {
  readonly row: dashboard.RowBuilder
  readonly lines: ReadonlyArray<ReadonlyArray<Cell | Stack>>
}

export function row(id: number, title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).id(id).collapsed(false)
}

/**
 * Places every panel at an explicit position: sections one under the other, each a row bar and
 * its lines, a line as high as its highest cell. Fails on a line wider than the grid.
 */
export function layOut(board: dashboard.DashboardBuilder, sections: readonly Section[]): void {
  let y = 0
  for (const { row: bar, lines } of sections) {
    bar.gridPos({ x: 0, y, w: 24, h: 1 })
    board.withRow(bar)
    y += 1
    for (const line of lines) {
      let x = 0
      let height = 0
      for (const cell of line) {
        if ('stack' in cell) {
          let below = y
          for (const { panel, h } of cell.stack) {
            panel.gridPos({ x, y: below, w: cell.w, h })
            board.withPanel(panel)
            below += h
          }
          height = Math.max(height, below - y)
        } else {
          cell.panel.gridPos({ x, y, w: cell.w, h: cell.h })
          board.withPanel(cell.panel)
          height = Math.max(height, cell.h)
        }
        x += cell.w
      }
      if (x > 24) throw new Error(`a line under "${bar.build().title}" is ${x} columns wide`)
      y += height
    }
  }
}

export interface BoardOptions {
  readonly uid: string
  readonly title: string
  readonly description: string
  readonly variables: ReadonlyArray<cog.Builder<dashboard.VariableModel>>
  readonly sections: readonly Section[]
  /** `now-30m` by default. */
  readonly from?: string
  /** 1 by default. */
  readonly version?: number
}

/**
 * The JSON schema version of the generated dashboards: the one they were first written against.
 * Grafana (12.1 on the monitoring host) migrates older versions when it loads a dashboard.
 */
export const SCHEMA_VERSION = 39

/** A read-only sugang dashboard (provisioned from files, so UI changes are refused anyway). */
export function board(o: BoardOptions): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(o.title)
    .uid(o.uid)
    .description(o.description)
    .tags(['sugang'])
    .readonly()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .timezone('browser')
    .refresh('10s')
    .time({ from: o.from ?? 'now-30m', to: 'now' })
    .version(o.version ?? 1)
    .fiscalYearStartMonth(0)
    .liveNow(false)
    .weekStart('')
    .links([])
    .annotations([])
    .variables([...o.variables])
  layOut(builder, o.sections)
  return { ...builder.build(), schemaVersion: SCHEMA_VERSION }
}
