// Writes prometheus/rules/slo.yml from src/slo/slos.ts: `npx tsx src/slo/generate.ts` in
// monitoring/ (tests/slo.test.ts fails while the committed file differs from what this writes).
import { writeFile } from 'node:fs/promises'
import { rulesDir } from '../paths.js'
import { renderSloRules } from './rules.js'

const sloRulesFile = `${rulesDir}/slo.yml`

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFile(sloRulesFile, renderSloRules())
}
