/**
 * Operator controls for opening day: pause admission (everywhere or per course), throttle it,
 * move a registration window, and announce. Each control lives in the store (MySQL: it survives
 * Redis losing its data, and every instance reads the same) together with an audit row saying
 * who set it, when, what and why, written in the same transaction. Every instance keeps a copy
 * that it refreshes every second, and tells its open pages when it changes.
 *
 * Commands arrive through the admin listener (plugins/app/admin.ts), never the public one.
 */
import { randomUUID } from 'node:crypto'
import type { Cancellation } from './cancellation.js'
import type { Promotion } from './ports.js'
import type { RegistrationWindow } from './rules.js'

/** The target of a control that applies to every course. */
export const EVERY_COURSE = '*'

export interface Pause {
  readonly reason: string
  readonly since: string
  readonly by: string
}

export interface Throttle {
  /** Most requests of one course decided per second (a course's ceiling), or over all courses. */
  readonly perSecond: number
  readonly reason: string
  readonly since: string
  readonly by: string
}

export interface WindowMove {
  /** The new opening for everyone (ISO 8601), when it was moved for everyone. */
  readonly opensAt?: string
  /** New openings of single grade years (year -> ISO 8601). */
  readonly opensAtByYear?: Readonly<Record<string, string>>
  readonly reason: string
  readonly since: string
  readonly by: string
}

export interface Announcement {
  readonly id: string
  readonly ko: string
  readonly en: string
  readonly since: string
  readonly by: string
}

/** Everything in force now. */
export interface ControlState {
  /** By course id, or EVERY_COURSE. */
  readonly pauses: ReadonlyMap<string, Pause>
  /** By course id, or EVERY_COURSE (a ceiling over all courses together). */
  readonly throttles: ReadonlyMap<string, Throttle>
  readonly window: WindowMove | null
  readonly announcement: Announcement | null
}

export const noControls: ControlState = Object.freeze({
  pauses: new Map(),
  throttles: new Map(),
  window: null,
  announcement: null,
})

/** One control as the store keeps it: its name and its value as JSON. */
export interface ControlRow {
  readonly name: string
  readonly value: string
}

/** Who did what, when and why: one row per command, written with the change it made. */
export interface OperatorAction {
  readonly operator: string
  /** pause, resume, throttle, unthrottle, window, announce, unannounce, capacity. */
  readonly action: string
  /** A course id, EVERY_COURSE, or what else the action names (a grade year). */
  readonly target: string
  readonly reason: string
  /** The action's parameters, as JSON. */
  readonly details: string
}

export interface RecordedAction extends OperatorAction {
  readonly id: number
  readonly at: Date
}

/** Where controls and the operators' actions live (the SQL store). */
export interface OperatorStore {
  readControls(): Promise<ControlRow[]>
  /** Sets (value) or removes (null) a control and records the action, in one transaction. */
  setControl(name: string, value: string | null, action: OperatorAction): Promise<void>
  /** The latest actions, newest first. */
  listActions(limit: number): Promise<RecordedAction[]>
}

/** The control names in the store. */
export const controlName = {
  pause: (target: string) => `pause:${target}`,
  throttle: (target: string) => `throttle:${target}`,
  window: 'window',
  announcement: 'announcement',
} as const

/** The state the store's rows describe; rows it cannot read are skipped (and reported). */
export function parseControls(
  rows: readonly ControlRow[],
  onBadRow: (row: ControlRow, err: unknown) => void = () => undefined,
): ControlState {
  const pauses = new Map<string, Pause>()
  const throttles = new Map<string, Throttle>()
  let window: WindowMove | null = null
  let announcement: Announcement | null = null
  for (const row of rows) {
    try {
      const value: unknown = JSON.parse(row.value)
      const [kind, target] = splitName(row.name)
      if (kind === 'pause' && target) pauses.set(target, value as Pause)
      else if (kind === 'throttle' && target) throttles.set(target, value as Throttle)
      else if (row.name === controlName.window) window = value as WindowMove
      else if (row.name === controlName.announcement) announcement = value as Announcement
    } catch (err) {
      onBadRow(row, err)
    }
  }
  return { pauses, throttles, window, announcement }
}

function splitName(name: string): [string, string | undefined] {
  const at = name.indexOf(':')
  return at < 0 ? [name, undefined] : [name.slice(0, at), name.slice(at + 1)]
}

/** The registration window in force: the configured one, moved by an operator. */
export function effectiveWindow(
  configured: RegistrationWindow,
  move: WindowMove | null,
): RegistrationWindow {
  if (!move) return configured
  const byYear = new Map(configured.opensAtByYear ?? [])
  for (const [year, at] of Object.entries(move.opensAtByYear ?? {})) {
    byYear.set(Number(year), new Date(at))
  }
  return {
    opensAt: move.opensAt === undefined ? configured.opensAt : new Date(move.opensAt),
    closesAt: configured.closesAt,
    opensAtByYear: byYear,
  }
}

/** What every open page is told (GET /api/v1/notices, the `notice` event). */
export interface Notice {
  readonly announcement: {
    readonly id: string
    readonly ko: string
    readonly en: string
    readonly since: string
  } | null
  /** Admission paused: everywhere (courseId null) or for these courses, with the reason. */
  readonly pauses: ReadonlyArray<{
    readonly courseId: string | null
    readonly reason: string
    readonly since: string
  }>
  /** Changes whenever the registration window is moved: the page asks for its window again. */
  readonly windowVersion: string
}

export function noticeOf(state: ControlState): Notice {
  const a = state.announcement
  return {
    announcement: a ? { id: a.id, ko: a.ko, en: a.en, since: a.since } : null,
    pauses: [...state.pauses]
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([target, p]) => ({
        courseId: target === EVERY_COURSE ? null : target,
        reason: p.reason,
        since: p.since,
      })),
    windowVersion: state.window?.since ?? '',
  }
}

export interface ControlsObserver {
  /** A refresh failed; the copy in force stays until one succeeds. */
  error(err: unknown): void
  /** A stored control could not be read (skipped). */
  badRow(name: string, err: unknown): void
}

/**
 * This instance's copy of the controls in force, refreshed from the store every `pollMs`.
 * Listeners hear of every change (the pages' event streams, the admission worker).
 */
export class OperatorControls {
  readonly #store: Pick<OperatorStore, 'readControls'>
  readonly #configured: RegistrationWindow
  readonly #pollMs: number
  readonly #observer: ControlsObserver
  readonly #listeners = new Set<(state: ControlState) => void>()
  #state: ControlState = noControls
  #window: RegistrationWindow
  #seen = ''
  #timer: NodeJS.Timeout | null = null
  /** When this instance saw each pause lifted (by target, EVERY_COURSE included), ms since the epoch. */
  readonly #resumed = new Map<string, number>()

  constructor(
    store: Pick<OperatorStore, 'readControls'>,
    configured: RegistrationWindow,
    pollMs: number,
    observer: ControlsObserver,
  ) {
    this.#store = store
    this.#configured = configured
    this.#window = configured
    this.#pollMs = pollMs
    this.#observer = observer
  }

  get state(): ControlState {
    return this.#state
  }

  /** The registration window in force. */
  window(): RegistrationWindow {
    return this.#window
  }

  /** Why admission of this course is paused (its own pause first), or null. */
  pausedFor(courseId: string): Pause | null {
    return this.#state.pauses.get(courseId) ?? this.#state.pauses.get(EVERY_COURSE) ?? null
  }

  /**
   * Whether admission of this course was paused at any time since `since` (ms since the epoch):
   * a pause in force now, or one this instance saw lifted after it. A pause lifted before this
   * instance started is not known to it.
   */
  pausedSince(courseId: string, since: number): boolean {
    if (this.pausedFor(courseId)) return true
    const course = this.#resumed.get(courseId)
    const every = this.#resumed.get(EVERY_COURSE)
    return (course !== undefined && course > since) || (every !== undefined && every > since)
  }

  /** The ceiling on this course's decisions per second, or 0 for none. */
  ceilingFor(courseId: string): number {
    return this.#state.throttles.get(courseId)?.perSecond ?? 0
  }

  /** The ceiling on decisions per second over every course together, or 0 for none. */
  overallCeiling(): number {
    return this.#state.throttles.get(EVERY_COURSE)?.perSecond ?? 0
  }

  onChange(listener: (state: ControlState) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Reads the store now; true when something changed. */
  async refresh(): Promise<boolean> {
    const rows = await this.#store.readControls()
    const seen = rows.map((r) => `${r.name}=${r.value}`).join('\n')
    if (seen === this.#seen) return false
    this.#seen = seen
    const before = this.#state.pauses
    this.#state = parseControls(rows, (row, err) => this.#observer.badRow(row.name, err))
    const now = Date.now()
    for (const target of before.keys()) {
      if (!this.#state.pauses.has(target)) this.#resumed.set(target, now)
    }
    this.#window = effectiveWindow(this.#configured, this.#state.window)
    for (const listener of this.#listeners) listener(this.#state)
    return true
  }

  /** Reads the store every pollMs from now on (start-up reads it once before starting this). */
  start(): void {
    if (this.#timer) return
    const tick = () => {
      this.refresh()
        .catch((err: unknown) => this.#observer.error(err))
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(tick, this.#pollMs).unref()
        })
    }
    this.#timer = setTimeout(tick, this.#pollMs).unref()
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }
}

/** A command refused: the target does not exist, or the value makes no sense. */
export class OperationRefused extends Error {
  constructor(
    readonly code: 'COURSE_NOT_FOUND' | 'NOTHING_TO_UNDO' | 'CAPACITY_BELOW_ENROLLED',
    message: string,
  ) {
    super(message)
  }
}

/** A course after an operator changed its capacity. */
export interface CapacityChange {
  readonly courseId: string
  readonly capacity: number
  readonly enrolled: number
  /** The waitlisted students the new seats went to, in the waitlist's order. */
  readonly promoted: readonly Promotion[]
}

/**
 * The operators' commands. Each one writes its control and its audit row in one store
 * transaction, then refreshes this instance's copy at once (the others within a second).
 */
export class Operations {
  readonly #store: OperatorStore
  readonly #controls: OperatorControls
  readonly #courseExists: (courseId: string) => Promise<boolean>
  readonly #seats: Pick<Cancellation, 'changeCapacity'>

  constructor(
    store: OperatorStore,
    controls: OperatorControls,
    courseExists: (courseId: string) => Promise<boolean>,
    seats: Pick<Cancellation, 'changeCapacity'>,
  ) {
    this.#store = store
    this.#controls = controls
    this.#courseExists = courseExists
    this.#seats = seats
  }

  async pause(operator: string, target: string, reason: string): Promise<ControlState> {
    await this.#target(target)
    const value: Pause = { reason, since: now(), by: operator }
    return this.#set(controlName.pause(target), value, {
      operator,
      action: 'pause',
      target,
      reason,
      details: '{}',
    })
  }

  async resume(operator: string, target: string, reason: string): Promise<ControlState> {
    await this.#target(target)
    await this.#controls.refresh()
    if (!this.#controls.state.pauses.has(target)) {
      throw new OperationRefused('NOTHING_TO_UNDO', `admission of ${label(target)} is not paused`)
    }
    return this.#set(controlName.pause(target), null, {
      operator,
      action: 'resume',
      target,
      reason,
      details: '{}',
    })
  }

  async throttle(
    operator: string,
    target: string,
    perSecond: number,
    reason: string,
  ): Promise<ControlState> {
    await this.#target(target)
    const value: Throttle = { perSecond, reason, since: now(), by: operator }
    return this.#set(controlName.throttle(target), value, {
      operator,
      action: 'throttle',
      target,
      reason,
      details: JSON.stringify({ perSecond }),
    })
  }

  async unthrottle(operator: string, target: string, reason: string): Promise<ControlState> {
    await this.#target(target)
    await this.#controls.refresh()
    if (!this.#controls.state.throttles.has(target)) {
      throw new OperationRefused(
        'NOTHING_TO_UNDO',
        `admission of ${label(target)} is not throttled`,
      )
    }
    return this.#set(controlName.throttle(target), null, {
      operator,
      action: 'unthrottle',
      target,
      reason,
      details: '{}',
    })
  }

  /** Moves the opening for everyone, or for one grade year; earlier moves of others stay. */
  async moveWindow(
    operator: string,
    move: { readonly opensAt: Date; readonly year?: number },
    reason: string,
  ): Promise<ControlState> {
    await this.#controls.refresh()
    const before = this.#controls.state.window
    const at = move.opensAt.toISOString()
    const value: WindowMove = {
      ...(before?.opensAt !== undefined ? { opensAt: before.opensAt } : {}),
      ...(before?.opensAtByYear ? { opensAtByYear: before.opensAtByYear } : {}),
      ...(move.year === undefined
        ? { opensAt: at }
        : { opensAtByYear: { ...before?.opensAtByYear, [String(move.year)]: at } }),
      reason,
      since: now(),
      by: operator,
    }
    return this.#set(controlName.window, value, {
      operator,
      action: 'window',
      target: move.year === undefined ? EVERY_COURSE : `year ${move.year}`,
      reason,
      details: JSON.stringify({ opensAt: at }),
    })
  }

  async announce(
    operator: string,
    text: { readonly ko: string; readonly en: string },
    reason: string,
  ): Promise<ControlState> {
    const value: Announcement = { id: randomUUID(), ...text, since: now(), by: operator }
    return this.#set(controlName.announcement, value, {
      operator,
      action: 'announce',
      target: EVERY_COURSE,
      reason,
      details: JSON.stringify(text),
    })
  }

  async unannounce(operator: string, reason: string): Promise<ControlState> {
    await this.#controls.refresh()
    if (!this.#controls.state.announcement) {
      throw new OperationRefused('NOTHING_TO_UNDO', 'there is no announcement')
    }
    return this.#set(controlName.announcement, null, {
      operator,
      action: 'unannounce',
      target: EVERY_COURSE,
      reason,
      details: '{}',
    })
  }

  /**
   * Changes a course's capacity during registration (증원/감원). A raise gives the new seats to
   * the waitlist's head in order, in the same transaction; a lowering never removes an
   * enrollment, so a capacity below the seats taken is refused (CAPACITY_BELOW_ENROLLED) and
   * nothing changes. The audit row (from, to, promoted) commits with the change.
   */
  async changeCapacity(
    operator: string,
    courseId: string,
    capacity: number,
    reason: string,
  ): Promise<CapacityChange> {
    const result = await this.#seats.changeCapacity(courseId, capacity, (changed) => ({
      operator,
      action: 'capacity',
      target: courseId,
      reason,
      details: JSON.stringify(changed),
    }))
    if (!result.ok) {
      if (result.refused === 'no-course') {
        throw new OperationRefused('COURSE_NOT_FOUND', `no course ${courseId}`)
      }
      const held =
        result.enrolled === 1 ? '1 student holds a seat' : `${result.enrolled} students hold seats`
      throw new OperationRefused(
        'CAPACITY_BELOW_ENROLLED',
        `${held} in ${courseId}: its capacity can go down to ${result.enrolled}, not ${result.capacity} (no enrollment is removed)`,
      )
    }
    return {
      courseId,
      capacity: result.capacity,
      enrolled: result.enrolled,
      promoted: result.promoted,
    }
  }

  actions(limit: number): Promise<RecordedAction[]> {
    return this.#store.listActions(limit)
  }

  async #target(target: string): Promise<void> {
    if (target !== EVERY_COURSE && !(await this.#courseExists(target))) {
      throw new OperationRefused('COURSE_NOT_FOUND', `no course ${target}`)
    }
  }

  async #set(name: string, value: object | null, action: OperatorAction): Promise<ControlState> {
    await this.#store.setControl(name, value === null ? null : JSON.stringify(value), action)
    await this.#controls.refresh()
    return this.#controls.state
  }
}

function now(): string {
  return new Date().toISOString()
}

function label(target: string): string {
  return target === EVERY_COURSE ? 'every course' : target
}
