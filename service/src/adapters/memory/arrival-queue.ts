/**
 * One course's waiting queue: request ids ordered by arrival number (a Redis sorted set scored by
 * arrival, as the Redis adapter keeps it). Arrival numbers only grow, so joining is an append;
 * a place is a binary search; decided requests leave in batches, mostly from the head.
 */
export class ArrivalQueue {
  #ids: string[] = []
  #arrivals: number[] = []
  readonly #arrivalOf = new Map<string, number>()

  get size(): number {
    return this.#ids.length
  }

  has(requestId: string): boolean {
    return this.#arrivalOf.has(requestId)
  }

  /** Adds (or moves, as ZADD does) a request to its place by arrival, ties by id. */
  add(requestId: string, arrival: number): void {
    if (this.#arrivalOf.has(requestId)) this.remove([requestId])
    this.#arrivalOf.set(requestId, arrival)
    const last = this.#ids.length - 1
    const lastArrival = this.#arrivals[last]
    const lastId = this.#ids[last]
    if (
      lastArrival === undefined ||
      lastId === undefined ||
      lastArrival < arrival ||
      (lastArrival === arrival && lastId < requestId)
    ) {
      this.#ids.push(requestId)
      this.#arrivals.push(arrival)
      return
    }
    const at = this.#lowerBound(arrival, requestId)
    this.#ids.splice(at, 0, requestId)
    this.#arrivals.splice(at, 0, arrival)
  }

  /** 0-based place (ZRANK), or null when not queued. */
  rank(requestId: string): number | null {
    const arrival = this.#arrivalOf.get(requestId)
    if (arrival === undefined) return null
    const at = this.#lowerBound(arrival, requestId)
    return this.#ids[at] === requestId ? at : null
  }

  /** The first `count` entries, in order (ZRANGE 0 count-1 WITHSCORES). */
  head(count: number): Array<{ readonly requestId: string; readonly arrival: number }> {
    const n = Math.max(0, Math.min(count, this.#ids.length))
    const out: Array<{ requestId: string; arrival: number }> = []
    for (let i = 0; i < n; i += 1) {
      out.push({ requestId: this.#ids[i] as string, arrival: this.#arrivals[i] as number })
    }
    return out
  }

  /** Removes the given requests (ZREM); returns how many were queued. */
  remove(requestIds: Iterable<string>): number {
    const gone = new Map<string, number>()
    for (const id of requestIds) {
      const arrival = this.#arrivalOf.get(id)
      if (arrival !== undefined) gone.set(id, arrival)
    }
    if (gone.size === 0) return 0
    if (gone.size <= 8) {
      for (const [id, arrival] of gone) {
        const at = this.#lowerBound(arrival, id)
        this.#ids.splice(at, 1)
        this.#arrivals.splice(at, 1)
        this.#arrivalOf.delete(id)
      }
      return gone.size
    }
    const ids: string[] = []
    const arrivals: number[] = []
    this.#ids.forEach((id, i) => {
      if (gone.has(id)) {
        this.#arrivalOf.delete(id)
        return
      }
      ids.push(id)
      arrivals.push(this.#arrivals[i] as number)
    })
    this.#ids = ids
    this.#arrivals = arrivals
    return gone.size
  }

  /** The first index whose (arrival, id) is not below the given one. */
  #lowerBound(arrival: number, requestId: string): number {
    let lo = 0
    let hi = this.#ids.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const a = this.#arrivals[mid] as number
      if (a < arrival || (a === arrival && (this.#ids[mid] as string) < requestId)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
