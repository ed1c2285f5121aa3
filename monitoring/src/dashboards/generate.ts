// npm run dashboards -w monitoring: writes grafana/dashboards/*.json from the modules of this
// folder. The JSON is generated: change the TypeScript and run this (tests/grafana.test.ts fails
// while a committed file differs from what this writes).
import { readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dashboardsDir, renderAll } from './index.js'

const rendered = await renderAll()
const wanted = new Set(rendered.map((r) => r.file))
for (const { file, text } of rendered) {
  await writeFile(join(dashboardsDir, file), text)
  console.log(`wrote grafana/dashboards/${file}`)
}
// A dashboard removed from the list is removed from the folder, so Grafana stops showing it.
for (const file of await readdir(dashboardsDir)) {
  if (file.endsWith('.json') && !wanted.has(file)) {
    await rm(join(dashboardsDir, file))
    console.log(`removed grafana/dashboards/${file}`)
  }
}
