import type { CartItem } from './model.js'
import type { EnrollmentRequests, SubmitResult } from './enrollment-requests.js'
import type { CartStore } from './ports.js'

/** Most courses one cart may hold: more than anyone can take in a semester. */
export const MAX_CART_ITEMS = 12

export type AddToCartResult = 'added' | 'cart-full' | 'course-not-found'

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

  async add(studentId: string, courseId: string): Promise<AddToCartResult> {
    const items = await this.#store.listCart(studentId)
    if (items.some((i) => i.courseId === courseId)) return 'added'
    if (items.length >= MAX_CART_ITEMS) return 'cart-full'
    return (await this.#store.addToCart(studentId, courseId)) ? 'added' : 'course-not-found'
  }

  remove(studentId: string, courseId: string): Promise<boolean> {
    return this.#store.removeFromCart(studentId, courseId)
  }

  /** Asks for every course in the cart, in order; stops early only if the session ended. */
  async requestAll(
    session: { readonly sessionId: string; readonly studentId: string },
    newRequestId: () => string,
    now = Date.now(),
  ): Promise<Array<{ readonly courseId: string; readonly result: SubmitResult }>> {
    const items = await this.#store.listCart(session.studentId)
    const results: Array<{ courseId: string; result: SubmitResult }> = []
    for (const { courseId } of items) {
      const result = await this.#requests.submit(
        { ...session, courseId, requestId: newRequestId(), waitlist: false },
        now,
      )
      results.push({ courseId, result })
      if (result.kind === 'closed' || result.kind === 'unauthenticated') break
    }
    return results
  }
}
