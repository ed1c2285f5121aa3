import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The Prometheus tools come from Debian's packages, which name some binaries differently from
 * upstream's tarballs; either name is accepted. A missing tool is an error that says how to get
 * it, never a reason to skip a check.
 */
const tools = {
  promtool: { names: ['promtool'], debianPackage: 'prometheus' },
  prometheus: { names: ['prometheus'], debianPackage: 'prometheus' },
  amtool: { names: ['amtool'], debianPackage: 'prometheus-alertmanager' },
  alertmanager: {
    names: ['prometheus-alertmanager', 'alertmanager'],
    debianPackage: 'prometheus-alertmanager',
  },
  nodeExporter: {
    names: ['prometheus-node-exporter', 'node_exporter'],
    debianPackage: 'prometheus-node-exporter',
  },
  redisExporter: {
    names: ['prometheus-redis-exporter', 'redis_exporter'],
    debianPackage: 'prometheus-redis-exporter',
  },
  mysqldExporter: {
    names: ['prometheus-mysqld-exporter', 'mysqld_exporter'],
    debianPackage: 'prometheus-mysqld-exporter',
  },
} as const

export type Tool = keyof typeof tools

export class MissingToolError extends Error {
  constructor(tool: Tool) {
    const { names, debianPackage } = tools[tool]
    super(
      `${names.join(' or ')} not found on PATH. Install Debian's ${debianPackage} package: ` +
        'sh monitoring/install-deps.sh',
    )
    this.name = 'MissingToolError'
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The absolute path of a tool, or a MissingToolError. */
export function findTool(tool: Tool, path = process.env.PATH ?? ''): string {
  const dirs = path.split(delimiter).filter(Boolean)
  for (const name of tools[tool].names) {
    for (const dir of dirs) {
      const candidate = join(dir, name)
      if (executable(candidate)) return candidate
    }
  }
  throw new MissingToolError(tool)
}
