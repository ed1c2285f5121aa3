// Writes prometheus/rules/slo.yml from src/slo/slos.ts: `npx tsx src/slo/generate.ts` in
// monitoring/. With --check it writes nothing and exits 1 when the committed file differs.
import { readFile, writeFile } from 'node:fs/promises'
import { rulesDir } from '../paths.js'
import { renderSloRules } from './rules.js'

export const sloRulesFile = `${rulesDir}/slo.yml`

async function main(argv: readonly string[]): Promise<number> {
  const text = renderSloRules()
  if (argv.includes('--check')) {
    const committed = await readFile(sloRulesFile, 'utf8').catch(() => '')
    if (committed === text) return 0
    process.stderr.write('prometheus/rules/slo.yml differs from src/slo/slos.ts: regenerate it\n')
    return 1
  }
  await writeFile(sloRulesFile, text)
  return 0
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2))
}
