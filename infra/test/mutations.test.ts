import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { applyMutation, mutations } from '../mutations/mutations.js'

// The mutation suite itself runs on demand (`npm run test:mutations -w infra`: each mutation runs
// test files of its own, minutes in all). Here, that it still applies: an edit whose text has
// moved would otherwise stop testing anything without a word.
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const INFRA = fileURLToPath(new URL('..', import.meta.url))

t.test('every mutation edits its file exactly once and names tests that exist', async (t) => {
  t.ok(mutations.length >= 33, `at least 33 breakages (${mutations.length})`)
  t.equal(new Set(mutations.map((m) => m.id)).size, mutations.length, 'ids are unique')
  for (const m of mutations) {
    const text = readFileSync(`${ROOT}${m.file}`, 'utf8')
    const edited = applyMutation(text, m)
    t.not(edited, text, `${m.id} changes ${m.file}`)
    t.ok(m.tests.length > 0, `${m.id} names its tests`)
    for (const test of m.tests) t.ok(existsSync(`${INFRA}${test}`), `${m.id}: ${test} exists`)
  }
})

t.test('an edit that does not apply is refused', async (t) => {
  const m = { id: 'x', breaks: '', file: 'f', find: 'a', replace: 'b', tests: [] }
  t.equal(applyMutation('xay', m), 'xby')
  t.throws(() => applyMutation('xyz', m), /is not in f/)
  t.throws(() => applyMutation('aa', m), /more than once/)
})
