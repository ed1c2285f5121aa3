import type { CartItem } from './model.js'
import type { EnrollmentRequests, SubmitResult } from './enrollment-requests.js'
import type { AddToCartResult, CartStore } from './ports.js'

export type { AddToCartResult }

/** Most courses one cart may hold: more than anyone can take in a semester. */
export const MAX_CART_ITEMS = 12

/**
 * The pre-registration cart (장바구니): courses saved before the window opens, then requested
 * together with one action. Each course becomes its own queue entry, asked in the cart's order,
 * so the student's first choice gets the earliest arrival number.
 */
export class Carts {
  readonly #store: CartStore
  readonly #requests: EnrollmentRequests

  constructor(store: CartStore, requests: EnrollmentRequests) {
    this.#store = store
    this.#requests = requests
  }

  list(studentId: string): Promise<CartItem[]> {
    return this.#store.listCart(studentId)
  }

  /** The store checks the limit in the same transaction as the insert: a count read first and
   * written after would let concurrent additions all pass it. */
  add(studentId: string, courseId: string): Promise<AddToCartResult> {
    return this.#store.addToCart(studentId, courseId, MAX_CART_ITEMS)
  }

  remove(studentId: string, courseId: string): Promise<boolean> {
    return this.#store.removeFromCart(studentId, courseId)
  }

  /**
   * Sets the cart's order (the student's priority: the first course is asked for first, so it
   * gets the earliest place). The order must name every course in the cart once and nothing
   * else; a cart changed meanwhile (another tab) is left as it is.
   */
  async reorder(
    studentId: string,
    courseIds: readonly string[],
  ): Promise<
    { readonly kind: 'reordered'; readonly items: CartItem[] } | { readonly kind: 'cart-changed' }
  > {
    if (new Set(courseIds).size !== courseIds.length) return { kind: 'cart-changed' }
    if (!(await this.#store.reorderCart(studentId, courseIds))) return { kind: 'cart-changed' }
    return { kind: 'reordered', items: await this.#store.listCart(studentId) }
  }

  /** Asks for every course in the cart, in order; stops early only if the session ended. */
  async requestAll(
    session: { readonly sessionId: string; readonly studentId: string },
    /** Ids for the requests (the queue mints them when absent). */
    newRequestId?: () => string,
    now = Date.now(),
  ): Promise<Array<{ readonly courseId: string; readonly result: SubmitResult }>> {
    // A cart stored over the limit (before the limit was enforced atomically) asks for no more.
    const items = (await this.#store.listCart(session.studentId)).slice(0, MAX_CART_ITEMS)
    const results: Array<{ courseId: string; result: SubmitResult }> = []
    for (const { courseId } of items) {
      const result = await this.#requests.submit(
        { ...session, courseId, requestId: newRequestId?.(), waitlist: false },
        now,
      )
      results.push({ courseId, result })
      if (result.kind === 'closed' || result.kind === 'unauthenticated') break
    }
    return results
  }
}
