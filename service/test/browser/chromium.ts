// What the browser tests share: Chromium started as the project starts it (Debian's, headless, a
// fresh profile, nothing dialled out), and axe-core's accessibility audit of a page.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test as Tap } from 'tap'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** One browser for the test, closed when it ends. */
export async function launchChromium(t: Tap): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.teardown(() => browser.close())
  return browser
}

/** axe-core's audit of the page as it is now (WCAG 2.x A and AA, and best practice). */
export async function audit(t: Tap, page: Page, what: string): Promise<void> {
  if ((await page.evaluate('typeof window.axe')) !== 'object') await page.evaluate(AXE)
  const violations = (await page.evaluate(
    `axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })))`,
  )) as Array<{ id: string; nodes: string[] }>
  t.same(violations, [], `no accessibility violations: ${what}`)
}
