// Entry point of `npm run bench:rush`; see main.ts.
import { main } from './main.js'

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err)
  return 2
})
