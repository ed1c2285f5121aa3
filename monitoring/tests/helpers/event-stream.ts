import { waitFor } from '@sugang/testkit/wait'
import type { Service, Student } from './service-harness.js'

export interface OpenStream {
  /** Everything the stream has carried so far. */
  text(): string
  close(): Promise<void>
}

/**
 * A student's live stream of their requests' answers (GET /api/v1/me/events), as the student's
 * page holds it. Resolves once the first answer of a watched request has arrived, that is once
 * the service counts the stream as a listener.
 */
export async function watchRequests(
  service: Service,
  student: Student,
  requestIds: readonly string[],
): Promise<OpenStream> {
  const controller = new AbortController()
  const url = `${service.httpUrl}/api/v1/me/events?requests=${requestIds.join(',')}`
  const response = await fetch(url, {
    headers: { cookie: student.cookie, accept: 'text/event-stream' },
    signal: controller.signal,
  })
  if (response.status !== 200 || !response.body) {
    controller.abort()
    throw new Error(`the event stream answered ${response.status}`)
  }
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
  })().catch(() => undefined)
  const close = async (): Promise<void> => {
    controller.abort()
    await reading
  }
  await waitFor(
    'the first answer of a watched request on the stream',
    async () => (text.includes('event: request\n') ? true : undefined),
    { timeoutMs: 10_000, intervalMs: 50 },
  ).catch(async (err: unknown) => {
    await close()
    throw new Error(`${(err as Error).message}; the stream carried ${JSON.stringify(text)}`)
  })
  return { text: () => text, close }
}
