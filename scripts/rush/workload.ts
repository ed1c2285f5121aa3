// What the students of a scenario want: deterministic (seeded), so that every target of one run
// and every run of one scenario meets exactly the same wishes in the same order.

import { shuffle } from '@sugang/service/random'

/** The demo semester's seeded PRNG (mulberry32) and shuffle; Math.random cannot be seeded. */
export { prng, shuffle } from '@sugang/service/random'

/** Students S000001.. and courses C0001..: the seed command's own names. */
export { courseId, studentId } from '@sugang/service/seed'

/**
 * Zipf-like popularity over `courses` courses (weight of the k-th most popular is 1/k^s), with
 * the ranks shuffled over the course numbers so that popularity does not follow capacity.
 * Returns a sampler of `count` distinct course numbers (1-based) per call.
 */
export function zipfChooser(
  courses: number,
  s: number,
  random: () => number,
): (count: number) => number[] {
  const order = shuffle(
    Array.from({ length: courses }, (_, i) => i + 1),
    random,
  )
  const cumulative = new Float64Array(courses)
  let total = 0
  for (let k = 0; k < courses; k += 1) {
    total += 1 / Math.pow(k + 1, s)
    cumulative[k] = total
  }
  const pick = (): number => {
    const x = random() * total
    let lo = 0
    let hi = courses - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return order[lo]!
  }
  return (count) => {
    const chosen = new Set<number>()
    const want = Math.min(count, courses)
    while (chosen.size < want) chosen.add(pick())
    return [...chosen]
  }
}

/** One enrollment request a student will send: student and course numbers (1-based). */
export interface Wish {
  readonly student: number
  readonly course: number
  readonly waitlist: boolean
}

/**
 * The order in which requests reach the service at the opening: every student's first choice,
 * then every student's second, and so on (students click one course after another), with the
 * students of each round in random order.
 */
export function interleave(
  choices: ReadonlyArray<readonly number[]>,
  firstStudent: number,
  waitlist: boolean,
  random: () => number,
): Wish[] {
  const wishes: Wish[] = []
  const rounds = choices.reduce((most, c) => Math.max(most, c.length), 0)
  const students = Array.from({ length: choices.length }, (_, i) => i)
  for (let round = 0; round < rounds; round += 1) {
    shuffle(students, random)
    for (const s of students) {
      const course = choices[s]![round]
      if (course !== undefined) wishes.push({ student: firstStudent + s, course, waitlist })
    }
  }
  return wishes
}
