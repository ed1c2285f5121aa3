const DEADLOCK = 1213
const LOCK_WAIT_TIMEOUT = 1205

/**
 * InnoDB chose this statement as a deadlock's victim, or it waited too long for a row lock: the
 * statement (a deadlock: the whole transaction) was rolled back, and running it again is safe.
 */
export function isRetryableLockError(err: unknown): boolean {
  const errno = (err as { errno?: unknown } | null)?.errno
  return errno === DEADLOCK || errno === LOCK_WAIT_TIMEOUT
}

/** Runs work again, a few times with a short random pause, while it loses lock conflicts. */
export async function retryLockConflicts<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work()
    } catch (err) {
      if (attempt >= attempts || !isRetryableLockError(err)) throw err
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20))
    }
  }
}
