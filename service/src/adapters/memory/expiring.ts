/** Milliseconds since the epoch: Date.now in service, a test's own clock in tests. */
export type Clock = () => number

interface Entry<V> {
  value: V
  /** When the entry stops existing (ms), or null for never. */
  expiresAt: number | null
}

/**
 * A map whose entries may expire, as Redis keys do: an expired entry is gone for every read at
 * once (lazily), and sweep() frees the memory of those nobody reads again.
 */
export class ExpiringMap<K, V> {
  readonly #clock: Clock
  readonly #entries = new Map<K, Entry<V>>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  #live(key: K): Entry<V> | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt !== null && entry.expiresAt <= this.#clock()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }

  get(key: K): V | undefined {
    return this.#live(key)?.value
  }

  has(key: K): boolean {
    return this.#live(key) !== undefined
  }

  /** Sets the value and its lifetime (null: none, like SET without EX). */
  set(key: K, value: V, ttlMs: number | null): void {
    this.#entries.set(key, {
      value,
      expiresAt: ttlMs === null ? null : this.#clock() + ttlMs,
    })
  }

  /** Replaces the value and keeps the lifetime (like HSET on an existing key). */
  update(key: K, value: V): boolean {
    const entry = this.#live(key)
    if (!entry) return false
    entry.value = value
    return true
  }

  /** Gives an existing entry a new lifetime (PEXPIRE); false when there is none. */
  expire(key: K, ttlMs: number): boolean {
    const entry = this.#live(key)
    if (!entry) return false
    entry.expiresAt = this.#clock() + ttlMs
    return true
  }

  /** Milliseconds left (PTTL): -2 when missing, -1 when it never expires. */
  ttlMs(key: K): number {
    const entry = this.#live(key)
    if (!entry) return -2
    if (entry.expiresAt === null) return -1
    return entry.expiresAt - this.#clock()
  }

  /** When it expires, ms since the epoch (PEXPIRETIME): -2 when missing, -1 when never. */
  expiresAt(key: K): number {
    const entry = this.#live(key)
    if (!entry) return -2
    return entry.expiresAt ?? -1
  }

  delete(key: K): boolean {
    return this.#entries.delete(key)
  }

  /** Drops every expired entry; returns how many. */
  sweep(): number {
    const now = this.#clock()
    let dropped = 0
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) {
        this.#entries.delete(key)
        dropped += 1
      }
    }
    return dropped
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size
  }
}
