import t from 'tap'
import { areaOf, renderSummary, summarize, type CpuProfile } from '../rush/profile.js'

const frame = (functionName: string, url = '', lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
})

t.test('areas: ours by folder, dependencies by package, Node, the collector', async (t) => {
  t.equal(
    areaOf(frame('enqueue', 'file:///app/service/dist/routes/api/enrollments.js')),
    'sugang routes/api',
  )
  t.equal(areaOf(frame('x', 'file:///app/service/src/app.ts')), 'sugang .')
  t.equal(
    areaOf(frame('readSigned', 'file:///app/service/.bench-build/plugins/app/sessions.js')),
    'sugang plugins/app',
  )
  t.equal(areaOf(frame('send', 'file:///app/node_modules/ioredis/built/Redis.js')), 'ioredis')
  t.equal(
    areaOf(frame('handler', 'file:///app/node_modules/@fastify/cookie/plugin.js')),
    '@fastify/cookie',
  )
  t.equal(areaOf(frame('writev', 'node:net')), 'Node')
  t.equal(areaOf(frame('(garbage collector)')), 'garbage collector')
  t.equal(areaOf(frame('(idle)')), 'idle')
  t.equal(areaOf(frame('(program)')), 'V8 and native code')
})

t.test('self time is charged per sample, idle apart, largest first', async (t) => {
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('parse', 'file:///a/node_modules/pino/lib/tools.js', 9) },
      {
        id: 4,
        callFrame: frame('enqueue', 'file:///a/service/dist/domain/enrollment-requests.js'),
      },
    ],
    // Each sample stands for the delta that follows it.
    samples: [3, 4, 4, 2, 3],
    timeDeltas: [0, 1_000, 2_000, 3_000, 4_000, 0],
  }
  const s = summarize(profile)
  t.equal(s.totalMs, 10)
  t.equal(s.idleMs, 4)
  t.same(
    s.areas.map((e) => [e.name, e.ms]),
    [
      ['sugang domain', 5],
      ['pino', 1],
    ],
  )
  t.same(s.functions[0], {
    name: 'enqueue service/dist/domain/enrollment-requests.js:1',
    ms: 5,
    share: 0.5,
  })
  t.equal(s.functions[1]?.name, 'parse pino/lib/tools.js:10')
  const md = renderSummary(s)
  t.match(md, /Sampled 10 ms, of which 6 ms busy \(60\.0 %\)/)
  t.match(md, /\| sugang domain \| 5 \| 50\.0 % \|/)
})

t.test('a profile without samples sums to nothing', async (t) => {
  const s = summarize({ startTime: 0, endTime: 0, nodes: [] })
  t.same(s, { totalMs: 0, idleMs: 0, functions: [], areas: [] })
})
