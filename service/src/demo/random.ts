/**
 * Seeded randomness, for what must come out the same on every run: the demo semester, the rush
 * benchmark's workload (scripts/rush/workload.ts) and the fault suite's students. Math.random
 * cannot be seeded.
 */

/** A source of numbers in [0, 1). */
export type Random = () => number

/** mulberry32: a small, fast, well-mixed PRNG; the same seed gives the same numbers. */
export function prng(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Shuffles `items` in place (Fisher-Yates, from the end), drawing from `random`; returns them. */
export function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
