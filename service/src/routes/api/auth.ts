import { BlockList, isIPv4 } from 'node:net'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { RETRY_AFTER_SECONDS, errorBody } from '../../errors.js'
import { PasswordChecks } from '../../domain/password-checks.js'
import { canonicalStudentId } from '../../domain/students.js'
import { hashPassword, needsRehash, verifyPassword } from '../../domain/passwords.js'
import type { LoginAttempt, LoginCheck } from '../../domain/ports.js'
import { LoginBody, LoginResponse } from '../../schemas/auth.js'
import { errorRef } from '../../schemas/common.js'
import { sendTooManyRequests } from '../../plugins/app/sessions.js'

const REFUSALS: Record<
  Exclude<LoginCheck['kind'], 'ok'>,
  { code: string; message: string; metric: string }
> = {
  'address-limited': {
    code: 'LOGIN_RATE_LIMITED',
    message: 'Too many failed logins from this network; wait and try again.',
    metric: 'address',
  },
  'account-locked': {
    code: 'ACCOUNT_LOCKED',
    message:
      'Too many failed logins for this student id; it is locked for a while. A browser that has logged in to it before can still log in.',
    metric: 'account',
  },
  'device-limited': {
    code: 'LOGIN_RATE_LIMITED',
    message: 'Too many failed logins from this browser; wait and try again.',
    metric: 'device',
  },
}

/** Whether an address is in one of the networks (an IPv4-mapped IPv6 address as its IPv4). */
function networkMatcher(networks: readonly string[]): (address: string) => boolean {
  const list = new BlockList()
  for (const network of networks) {
    const [address = '', prefix] = network.split('/')
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6')
  }
  return (address) => {
    const mapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : null
    if (mapped && isIPv4(mapped)) return list.check(mapped, 'ipv4')
    return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
  }
}

const auth: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store, logins, students } = app.sugang
  const { login } = config
  const limits = {
    account: login.accountFailures,
    address: login.addressFailures,
    device: login.deviceFailures,
    campusAccount: { max: login.campusAccountFailures },
  }
  const onCampus = networkMatcher(login.campusNetworks)
  const checks = new PasswordChecks({
    atOnce: login.checksAtOnce,
    maxWaitMs: login.checkMaxWaitMs,
  })

  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        summary: 'Log in',
        description:
          'Checks the student id and password and opens a session: sets the signed sugang_session cookie (and a device cookie for this browser). 401 INVALID_CREDENTIALS; 429 LOGIN_RATE_LIMITED or ACCOUNT_LOCKED, with Retry-After; 503 LOGIN_BUSY with Retry-After when the instance is checking as many passwords as it runs at once (LOGIN_CHECKS_AT_ONCE) and this one would wait longer than LOGIN_CHECK_MAX_WAIT_MS for its turn: nothing was counted, retry. No session needed.',
        tags: ['auth'],
        body: LoginBody,
        response: { 200: LoginResponse, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      const { password } = request.body
      const studentId = canonicalStudentId(request.body.studentId)
      const attempt: LoginAttempt = {
        studentId,
        address: request.ip,
        device: app.sessions.deviceOf(request, studentId),
        campus: onCampus(request.ip),
        limits,
      }
      // The attempt is counted as a failure before its password is checked, so however many
      // arrive at once, no more are checked than the limits allow; a success gives it back.
      const check = await logins.reserve(attempt)
      if (check.kind !== 'ok') {
        const refusal = REFUSALS[check.kind]
        app.metrics.loginRefusals.inc({ reason: refusal.metric })
        return sendTooManyRequests(reply, check.retryAfterMs, refusal.code, refusal.message)
      }
      // Never checked (a dependency failed, the instance is busy, the client left): no failure
      // of the student's.
      const giveBack = () =>
        logins
          .release(check.reservation)
          .catch((releaseErr: unknown) =>
            request.log.warn({ err: releaseErr }, 'login reservation not released'),
          )
      const turn = checks.enter()
      if (!turn) {
        await giveBack()
        app.metrics.loginRefusals.inc({ reason: 'busy' })
        return reply
          .code(503)
          .header('retry-after', RETRY_AFTER_SECONDS)
          .send(
            errorBody('LOGIN_BUSY', 'Too many logins are being checked right now; retry shortly.'),
          )
      }
      const endTurn = await turn
      let student: Awaited<ReturnType<typeof store.findStudent>>
      let valid: boolean
      try {
        // A student who gave up while waiting (the page retries on its own) costs no check:
        // their connection is gone (the request itself ends once its body is read).
        if (request.raw.socket?.destroyed === true) {
          await giveBack()
          return reply.code(503).send(errorBody('LOGIN_BUSY', 'The client left before its turn.'))
        }
        student = await store.findStudent(studentId)
        // Unknown students are checked against a decoy, and every check costs at least the
        // configured scrypt cost, so the answer's timing does not tell whether the id exists.
        valid = await verifyPassword(password, student?.passwordHash ?? null, config.passwordCost)
      } catch (err) {
        await giveBack()
        throw err
      } finally {
        endTurn()
      }
      if (!student || !valid) {
        // The reservation stays: it is the counted failure.
        return reply
          .code(401)
          .send(errorBody('INVALID_CREDENTIALS', 'Student id or password is wrong.'))
      }
      await logins.release(check.reservation)
      students.remember(student)
      await app.sessions.open(reply, student.id)
      app.sessions.rememberDevice(request, reply, student.id)
      // Off the response path, in a turn of its own that no login waits behind (a later login
      // does it if this instance is too far behind, or fails to).
      const rehashTurn = needsRehash(student.passwordHash, config.passwordCost)
        ? checks.whenIdle()
        : null
      if (rehashTurn) {
        void rehashTurn.then((endRehash) =>
          hashPassword(password, config.passwordCost)
            .then((hash) => store.updatePasswordHash(student.id, hash))
            .catch((err: unknown) =>
              request.log.warn({ err, studentId: student.id }, 'password rehash failed'),
            )
            .finally(endRehash),
        )
      }
      request.log.info({ studentId: student.id }, 'logged in')
      return { studentId: student.id, name: student.name }
    },
  )

  app.post(
    '/auth/logout',
    {
      config: { public: true },
      schema: {
        summary: 'Log out',
        description: 'Ends the session on every instance and clears its cookie. No session needed.',
        tags: ['auth'],
        response: { 204: Type.Null(), 503: errorRef },
      },
    },
    async (request, reply) => {
      await app.sessions.close(request, reply)
      return reply.code(204).send(null)
    },
  )
}

export default auth
