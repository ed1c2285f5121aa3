import t from 'tap'
import { capacityOf } from '../../src/seed.js'

t.test('a single capacity is every course’s capacity', async (t) => {
  for (const n of [1, 2, 600]) t.equal(capacityOf(n, 30), 30)
})

t.test('a capacity range is spread evenly over the courses, ends included', async (t) => {
  const capacities = Array.from({ length: 600 }, (_, i) => capacityOf(i + 1, [30, 200]))
  t.ok(capacities.every((c) => Number.isInteger(c) && c >= 30 && c <= 200))
  t.equal(Math.min(...capacities), 30)
  t.ok(Math.max(...capacities) >= 199)
  // Evenly: each sixth of the range holds roughly a sixth of the courses.
  for (let band = 0; band < 6; band += 1) {
    const low = 30 + (band * 170) / 6
    const inBand = capacities.filter((c) => c >= low && c < low + 170 / 6).length
    t.ok(inBand > 80 && inBand < 120, `band ${band} holds ${inBand} of 600`)
  }
  // Not ordered by course number: neighbours differ.
  t.ok(capacities.slice(0, 20).some((c, i) => i > 0 && c < capacities[i - 1]!))
  t.equal(capacityOf(7, [50, 50]), 50)
})
