// Writes docs/openapi.json from the service's TypeScript sources, never from a dist/ build that
// may be older than them. Run it as `npm run openapi -w service`.
import { fileURLToPath } from 'node:url'
import { tsImport } from 'tsx/esm/api'

const output = fileURLToPath(new URL('../docs/openapi.json', import.meta.url))
const cli = await tsImport('@sugang/service/cli', import.meta.url)
process.exitCode = await cli.main(['openapi', '--output', output])
