// infra/scripts/scan-gate.sh, the deploy pipeline's vulnerability gate, run against a stand-in for
// the AWS CLI that answers describe-image-scan-findings in ECR's own response shapes: basic
// scanning (findings with a severity only) and enhanced scanning (Inspector's findings, which say
// whether a fix exists).
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { profiles } from '../src/config/index.js'
import { only, synthPlatform } from './helpers/synth.js'

const script = fileURLToPath(new URL('../scripts/scan-gate.sh', import.meta.url))
const REPOSITORY = 'sugang-small/service'
const DIGEST = `sha256:${'0123abcd'.repeat(8)}`
const imageId = { imageDigest: DIGEST, imageTag: 'c0ffee' }

type Finding = Record<string, unknown>

/** A basic scan's answer: CVE name, link, severity and package attributes; nothing on fixes. */
function basic(findings: Finding[], status = 'COMPLETE') {
  const counts: Record<string, number> = {}
  for (const f of findings) counts[f.severity as string] = (counts[f.severity as string] ?? 0) + 1
  return {
    imageScanFindings: {
      imageScanCompletedAt: '2027-01-20T09:00:00+09:00',
      vulnerabilitySourceUpdatedAt: '2027-01-20T06:00:00+09:00',
      findingSeverityCounts: counts,
      findings,
    },
    registryId: '111111111111',
    repositoryName: REPOSITORY,
    imageId,
    imageScanStatus: { status, description: 'The scan was completed successfully.' },
  }
}

function basicFinding(name: string, severity: string, pkg: string, version: string): Finding {
  return {
    name,
    description: `${name} in ${pkg}`,
    uri: `https://security-tracker.debian.org/tracker/${name}`,
    severity,
    attributes: [
      { key: 'package_version', value: version },
      { key: 'package_name', value: pkg },
      { key: 'CVSS3_SCORE', value: '7.5' },
    ],
  }
}

/** An enhanced scan's answer: Inspector findings, each with fixAvailable and fixedInVersion. */
function enhanced(findings: Finding[], status = 'ACTIVE') {
  const counts: Record<string, number> = {}
  for (const f of findings) counts[f.severity as string] = (counts[f.severity as string] ?? 0) + 1
  return {
    imageScanFindings: {
      enhancedFindings: findings,
      findingSeverityCounts: counts,
    },
    registryId: '111111111111',
    repositoryName: REPOSITORY,
    imageId,
    imageScanStatus: { status, description: 'Continuous scan is selected for image.' },
  }
}

function inspectorFinding(options: {
  cve: string
  severity: string
  pkg: string
  version: string
  fixedInVersion?: string
  fixAvailable?: 'YES' | 'NO' | 'PARTIAL'
  manager?: string
}): Finding {
  const finding: Finding = {
    awsAccountId: '111111111111',
    description: `${options.cve} in ${options.pkg}`,
    findingArn: `arn:aws:inspector2:ap-northeast-2:111111111111:finding/${options.cve.toLowerCase()}`,
    firstObservedAt: '2027-01-20T09:00:00+09:00',
    lastObservedAt: '2027-01-20T09:00:00+09:00',
    packageVulnerabilityDetails: {
      cvss: [
        { baseScore: 7.5, scoringVector: 'CVSS:3.1/AV:N/AC:L', source: 'NVD', version: '3.1' },
      ],
      referenceUrls: [],
      relatedVulnerabilities: [],
      source: options.manager === 'NODEPKG' ? 'NVD' : 'DEBIAN_CVE',
      sourceUrl: `https://nvd.nist.gov/vuln/detail/${options.cve}`,
      vendorSeverity: options.severity,
      vulnerabilityId: options.cve,
      vulnerablePackages: [
        {
          arch: 'AMD64',
          epoch: 0,
          name: options.pkg,
          packageManager: options.manager ?? 'OS',
          sourceLayerHash: `sha256:${'ab'.repeat(32)}`,
          version: options.version,
          ...(options.fixedInVersion === undefined
            ? {}
            : { fixedInVersion: options.fixedInVersion }),
        },
      ],
    },
    remediation: { recommendation: { text: 'None Provided' } },
    resources: [
      {
        id: `arn:aws:ecr:ap-northeast-2:111111111111:repository/${REPOSITORY}/${DIGEST}`,
        type: 'AWS_ECR_CONTAINER_IMAGE',
      },
    ],
    score: 7.5,
    severity: options.severity,
    status: 'ACTIVE',
    title: `${options.cve} - ${options.pkg}`,
    type: 'PACKAGE_VULNERABILITY',
    updatedAt: '2027-01-20T09:00:00+09:00',
    exploitAvailable: 'NO',
  }
  if (options.fixAvailable) finding.fixAvailable = options.fixAvailable
  return finding
}

// What bookworm-slim typically carries: HIGH and CRITICAL findings Debian has not fixed.
const unfixedDebian = [
  inspectorFinding({
    cve: 'CVE-2023-45853',
    severity: 'CRITICAL',
    pkg: 'zlib1g',
    version: '1:1.2.13.dfsg-1',
    fixedInVersion: 'NotAvailable',
    fixAvailable: 'NO',
  }),
  inspectorFinding({
    cve: 'CVE-2023-31484',
    severity: 'HIGH',
    pkg: 'perl-base',
    version: '5.36.0-7+deb12u1',
    fixedInVersion: 'NotAvailable',
    fixAvailable: 'NO',
  }),
]
// npm's own dependency in the node image, fixed upstream.
const fixableNpm = inspectorFinding({
  cve: 'CVE-2024-21538',
  severity: 'HIGH',
  pkg: 'cross-spawn',
  version: '7.0.3',
  fixedInVersion: '7.0.5',
  fixAvailable: 'YES',
  manager: 'NODEPKG',
})

/** A line of the stand-in's script: a JSON answer, or an error the CLI prints (exit 254). */
type Answer = object | { error: string }

interface Outcome {
  readonly code: number
  readonly output: string
  readonly calls: string
}

async function gate(answers: Answer[], env: Record<string, string> = {}): Promise<Outcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-scan-gate-'))
  const bin = path.join(dir, 'bin')
  mkdirSync(bin)
  answers.forEach((answer, i) =>
    writeFileSync(path.join(dir, `answer-${i}`), JSON.stringify(answer)),
  )
  writeFileSync(path.join(dir, 'next'), '0')
  // Each call prints the next answer; the last one repeats.
  const aws = path.join(bin, 'aws')
  writeFileSync(
    aws,
    `#!/usr/bin/env bash
set -euo pipefail
echo "$*" >>"${dir}/calls"
n=$(cat "${dir}/next")
[ "$n" -ge ${answers.length - 1} ] || echo $((n + 1)) >"${dir}/next"
node -e '
  const answer = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
  if (answer.error) { console.error(answer.error); process.exit(254) }
  console.log(JSON.stringify(answer))
' "${dir}/answer-$n"
`,
  )
  chmodSync(aws, 0o755)
  return await new Promise((resolve) => {
    execFile(
      'bash',
      [script, REPOSITORY, DIGEST],
      { env: { PATH: `${bin}:${process.env.PATH}`, POLL_SECONDS: '0', ...env } },
      (error, stdout, stderr) => {
        const log = path.join(dir, 'calls')
        const calls = existsSync(log) ? readFileSync(log, 'utf8') : ''
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          output: stdout + stderr,
          calls,
        })
      },
    )
  })
}

t.test('asks ECR for the findings of the pushed image, by digest', async (t) => {
  const result = await gate([enhanced([])])
  t.equal(result.code, 0, 'passes', { output: result.output })
  t.equal(
    result.calls,
    `ecr describe-image-scan-findings --repository-name ${REPOSITORY} --image-id imageDigest=${DIGEST} --output json\n`,
  )
})

t.test(
  'enhanced scanning: unfixed HIGH and CRITICAL findings are warnings, not a block',
  async (t) => {
    const result = await gate([enhanced(unfixedDebian)])
    t.equal(result.code, 0, 'passes', { output: result.output })
    t.match(result.output, 'enhanced scan: CRITICAL 1, HIGH 1, MEDIUM 0')
    t.match(
      result.output,
      '::warning::CRITICAL without a fix yet: CVE-2023-45853: zlib1g 1:1.2.13.dfsg-1',
    )
    t.match(result.output, '::warning::HIGH without a fix yet: CVE-2023-31484: perl-base')
    t.match(result.output, 'no finding of HIGH or worse has a fix')
  },
)

t.test(
  'enhanced scanning: a fixable finding at the threshold blocks and names the fix',
  async (t) => {
    const result = await gate([enhanced([...unfixedDebian, fixableNpm])])
    t.not(result.code, 0, 'blocks')
    t.match(result.output, 'HIGH: CVE-2024-21538: cross-spawn 7.0.3 (fixed in 7.0.5)')
    t.match(result.output, '::error::1 finding(s) of HIGH or worse have a fix')
    t.notMatch(result.output, 'may be deployed')
  },
)

t.test('enhanced scanning: a partial fix blocks too', async (t) => {
  const partial = inspectorFinding({
    cve: 'CVE-2025-0001',
    severity: 'CRITICAL',
    pkg: 'libssl3',
    version: '3.0.15-1~deb12u1',
    fixedInVersion: '3.0.16-1~deb12u1',
    fixAvailable: 'PARTIAL',
  })
  const result = await gate([enhanced([partial])])
  t.not(result.code, 0, 'blocks')
  t.match(result.output, 'CRITICAL: CVE-2025-0001: libssl3')
})

t.test('enhanced scanning: without fixAvailable, a fixed-in version decides', async (t) => {
  const { fixAvailable: _fix, ...fixable } = fixableNpm
  const { fixAvailable: _none, ...unfixable } = unfixedDebian[1]!
  t.not((await gate([enhanced([fixable])])).code, 0, 'a fixed-in version blocks')
  t.equal((await gate([enhanced([unfixable])])).code, 0, '"NotAvailable" does not')
})

t.test('the threshold decides which severities count', async (t) => {
  const medium = inspectorFinding({
    cve: 'CVE-2024-50602',
    severity: 'MEDIUM',
    pkg: 'libexpat1',
    version: '2.5.0-1',
    fixedInVersion: '2.5.0-1+deb12u1',
    fixAvailable: 'YES',
  })
  t.equal((await gate([enhanced([medium])])).code, 0, 'a fixable MEDIUM passes HIGH')
  const strict = await gate([enhanced([medium])], { IMAGE_SCAN_THRESHOLD: 'MEDIUM' })
  t.not(strict.code, 0, 'and blocks MEDIUM')
  const lax = await gate([enhanced([fixableNpm])], { IMAGE_SCAN_THRESHOLD: 'CRITICAL' })
  t.equal(lax.code, 0, 'a fixable HIGH passes CRITICAL')
  const wrong = await gate([enhanced([])], { IMAGE_SCAN_THRESHOLD: 'SEVERE' })
  t.not(wrong.code, 0)
  t.match(wrong.output, 'IMAGE_SCAN_THRESHOLD must be CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL')
  t.equal(wrong.calls, '', 'refused before asking ECR')
})

t.test(
  'basic scanning cannot tell fixable from not: every finding at the threshold blocks',
  async (t) => {
    const high = basicFinding('CVE-2023-31484', 'HIGH', 'perl', '5.36.0-7+deb12u1')
    const low = basicFinding('CVE-2011-3374', 'LOW', 'apt', '2.6.1')
    const blocked = await gate([basic([high, low])])
    t.not(blocked.code, 0, 'blocks')
    t.match(blocked.output, 'basic scan: CRITICAL 0, HIGH 1, MEDIUM 0, LOW 1')
    t.match(
      blocked.output,
      'HIGH: CVE-2023-31484 https://security-tracker.debian.org/tracker/CVE-2023-31484',
    )
    t.match(blocked.output, 'basic scanning cannot tell which have a fix')
    const passed = await gate([basic([low])])
    t.equal(passed.code, 0, 'findings below the threshold pass', { output: passed.output })
  },
)

t.test('waits for a scan that has not started or not finished', async (t) => {
  const result = await gate([
    {
      error:
        'An error occurred (ScanNotFoundException) when calling the DescribeImageScanFindings operation: Image scan does not exist for the image',
    },
    enhanced([], 'PENDING'),
    basic([], 'IN_PROGRESS'),
    enhanced(unfixedDebian),
  ])
  t.equal(result.code, 0, 'passes once the scan is done', { output: result.output })
  t.match(result.output, 'scan of sugang-small/service@sha256:')
  t.match(result.output, ': PENDING')
  t.match(result.output, ': IN_PROGRESS')
  t.equal(result.calls.trim().split('\n').length, 4, 'asked until it was done')
})

t.test('an image that was not scanned is not deployed', async (t) => {
  for (const status of [
    'FAILED',
    'UNSUPPORTED_IMAGE',
    'FINDINGS_UNAVAILABLE',
    'SCAN_ELIGIBILITY_EXPIRED',
  ]) {
    const result = await gate([enhanced([], status)])
    t.not(result.code, 0, status)
    t.match(result.output, `ended ${status}`)
  }
  const slow = await gate([enhanced([], 'IN_PROGRESS')], { SCAN_TIMEOUT_SECONDS: '0' })
  t.not(slow.code, 0, 'a scan that does not finish in time')
  t.match(slow.output, 'is still IN_PROGRESS after 0s')
  const denied = await gate([
    {
      error:
        'An error occurred (AccessDeniedException) when calling the DescribeImageScanFindings operation: not authorized',
    },
  ])
  t.not(denied.code, 0, 'findings it may not read')
  t.match(denied.output, 'could not read the scan findings')
})

t.test('the registry scans every repository of the project on push with Inspector', async (t) => {
  for (const config of [profiles.small, profiles.ha]) {
    const { registry } = synthPlatform(config)
    const scanning = only(registry, 'aws_ecr_registry_scanning_configuration')
    t.equal(scanning.scan_type, 'ENHANCED')
    t.same(scanning.rule, [
      {
        scan_frequency: 'SCAN_ON_PUSH',
        repository_filter: [{ filter: `${config.project}-*`, filter_type: 'WILDCARD' }],
      },
    ])
    const repository = only(registry, 'aws_ecr_repository')
    t.match(repository.name, new RegExp(`^${config.project}-`), 'the filter covers it')
  }
})
