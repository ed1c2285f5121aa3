#!/usr/bin/env node
// Runs the compiled CLI when it exists (the container image), else the TypeScript sources.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/cli.js', import.meta.url)
let cli
if (existsSync(compiled)) {
  cli = await import(compiled.href)
} else {
  const { tsImport } = await import('tsx/esm/api')
  cli = await tsImport('../src/cli.ts', import.meta.url)
}
const code = await cli.main(process.argv.slice(2))
// serve returns once listening; the process then lives on until a signal closes it.
process.exitCode = code
