import { execFile } from 'node:child_process'
import { findTool, type Tool } from '../../src/binaries.js'
import { monitoringDir } from '../../src/paths.js'

export interface ToolRun {
  readonly code: number
  readonly output: string
}

/**
 * Runs a Prometheus tool (promtool, amtool) in the monitoring workspace and returns its exit code
 * and output; a missing tool throws MissingToolError, which fails the test that needed it.
 */
export function runTool(
  tool: Tool,
  args: readonly string[],
  { cwd = monitoringDir, timeoutMs = 60_000 }: { cwd?: string; timeoutMs?: number } = {},
): Promise<ToolRun> {
  const bin = findTool(tool)
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, output: `${stdout}${stderr}` })
    })
  })
}
