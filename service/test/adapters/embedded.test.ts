import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createMemoryRushState } from '../../src/adapters/memory/index.js'
import { SqliteStore } from '../../src/adapters/sqlite/store.js'
import { PASSWORD_HASH, contract } from './contract.js'

// The embedded pair: a SQLite file of each test's own, and the in-process rush state.
contract(t, async (t, options) => {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-contract-'))
  const store = new SqliteStore({ path: join(dir, 'sugang.sqlite') })
  const rush = createMemoryRushState({
    sessionTtlSeconds: options.sessionTtlSeconds ?? 3_600,
    decidedTtlSeconds: options.decidedTtlSeconds ?? 3_600,
    requestBudget: options.requestBudget ?? { max: 1_000, windowMs: 10_000 },
  })
  t.teardown(async () => {
    await rush.lifecycle.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  await store.migrate()
  await rush.lifecycle.connect()
  return {
    store,
    rush,
    async seed(fixture) {
      await store.insertSeed({
        students: (fixture.students ?? []).map((s) => ({
          id: s.id,
          name: s.name ?? 'Student',
          email: `${s.id}@example.edu`,
          passwordHash: PASSWORD_HASH,
          year: s.year ?? 1,
          maxCredits: s.maxCredits ?? 18,
        })),
        courses: (fixture.courses ?? []).map((c) => ({
          id: c.id,
          title: c.title ?? 'Course',
          professor: c.professor ?? 'Professor',
          credits: c.credits ?? 3,
          capacity: c.capacity,
          meetings: c.meetings ?? [],
        })),
      })
    },
  }
})
