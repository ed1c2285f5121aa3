import type { Catalogue } from './catalogue.js'
import type { EnrollmentRequests } from './enrollment-requests.js'
import type { RecordHead } from './fairness.js'
import type { FairnessRecordReads, RequestFairness } from './ports.js'

/** What a student is told when they ask for their own request's entries in the fairness record. */
export type RequestRecordLook =
  | { readonly kind: 'record'; readonly record: RequestFairness }
  /** No such request, or another student's: the two are answered alike. */
  | { readonly kind: 'not-found' }
  /** The request is still queued: it has no entry until the admission worker decides it. */
  | { readonly kind: 'not-decided' }
  /**
   * Decided, but without an entry: decided before the record was kept, or refused because its
   * course was removed while it waited. It never will have one.
   */
  | { readonly kind: 'not-recorded' }

/**
 * The fairness record as students and the public read it (docs/fairness.md): a student's own
 * request with its entries and its course's digest, and any course's digest. Reads of the store's
 * primary, off the rush path.
 */
export class FairnessRecord {
  readonly #reads: Pick<FairnessRecordReads, 'requestRecord' | 'recordHead'>
  readonly #requests: Pick<EnrollmentRequests, 'status'>
  readonly #catalogue: Pick<Catalogue, 'exists'>
  /** Digests read in the last second, by course: the public route costs one read a course a second. */
  readonly #digests = new Map<
    string,
    { readonly at: number; readonly head: Promise<RecordHead | null> }
  >()

  constructor(
    reads: Pick<FairnessRecordReads, 'requestRecord' | 'recordHead'>,
    requests: Pick<EnrollmentRequests, 'status'>,
    catalogue: Pick<Catalogue, 'exists'>,
  ) {
    this.#reads = reads
    this.#requests = requests
    this.#catalogue = catalogue
  }

  /**
   * A student's own request in the record. The record is read first: it is the truth for a
   * request once decided, whoever still remembers the request, and names its student. Only a
   * request without entries is looked up as a status check would (the queue, then the store), to
   * tell a request still queued from one that is missing or another student's.
   */
  async ofRequest(studentId: string, requestId: string): Promise<RequestRecordLook> {
    const recorded = await this.#reads.requestRecord(requestId)
    if (recorded) return this.#own(studentId, recorded)
    const view = await this.#requests.status(studentId, requestId)
    if (!view) return { kind: 'not-found' }
    if (view.status === 'queued') return { kind: 'not-decided' }
    // Decided: an entry commits before the queue hears of its decision, so a decision seen now
    // that had no entry a moment ago was made in between. Read again.
    const again = await this.#reads.requestRecord(requestId)
    return again ? this.#own(studentId, again) : { kind: 'not-recorded' }
  }

  /**
   * A course's digest: its number of entries and the hash of the last one; null: no course. The
   * route is public, so what it costs is bounded: a course the catalogue (in memory) does not
   * know costs no read, and each course's digest is read at most once a second per instance,
   * shared by everyone asking meanwhile. A digest is at most that old.
   */
  async digest(courseId: string): Promise<RecordHead | null> {
    if (!(await this.#catalogue.exists(courseId))) return null
    const now = Date.now()
    const kept = this.#digests.get(courseId)
    if (kept && now - kept.at < DIGEST_TTL_MS) return kept.head
    const head = this.#reads.recordHead(courseId)
    this.#digests.set(courseId, { at: now, head })
    // A failed read is not kept: the next request asks again.
    head.catch(() => this.#digests.delete(courseId))
    return head
  }

  #own(studentId: string, record: RequestFairness): RequestRecordLook {
    return record.studentId === studentId ? { kind: 'record', record } : { kind: 'not-found' }
  }
}

/** How long a course's digest is kept before it is read again (ms). */
const DIGEST_TTL_MS = 1_000
