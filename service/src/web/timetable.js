// @ts-check
// The weekly timetable grid: 월–토 × periods, one cell per day and period.

import { h } from './dom.js'
import { DAYS, dayLabel, dayName, m } from './text.js'

export const PERIODS = 12
/** The most periods a day can have (the server's limit); the grid grows to show them. */
const MAX_PERIODS = 15
/** Course colours (style.css has .tone-0 … .tone-7), by the course's place in the timetable. */
const TONES = 8

/**
 * @typedef {{ day: string, start: number, end: number, room: string }} Meeting
 * @typedef {{ courseId: string, title: string, meetings?: Meeting[] }} TimetableCourse
 * @typedef {{ course: TimetableCourse, meeting: Meeting, tone: number, first: boolean }} Slot
 */

/**
 * A table with a header row of days and a header column of periods. Every cell has
 * data-testid="timetable-cell", data-day and data-period; a taken cell also has data-course-id
 * and names the course (its first period shows the title and room, the rest continue it).
 * @param {{ courseId: string, title: string, meetings?: { day: string, start: number,
 *   end: number, room: string }[] }[]} courses
 */
export function buildTimetable(courses) {
  /** @type {Map<string, Slot[]>} */
  const slots = new Map()
  let periods = PERIODS
  courses.forEach((course, index) => {
    for (const meeting of Array.isArray(course.meetings) ? course.meetings : []) {
      if (!DAYS.includes(meeting.day)) continue
      const start = Math.max(1, meeting.start)
      const end = Math.min(MAX_PERIODS, Math.max(start, meeting.end))
      periods = Math.max(periods, end)
      for (let period = start; period <= end; period += 1) {
        const key = `${meeting.day}-${period}`
        const list = slots.get(key) ?? []
        list.push({ course, meeting, tone: index % TONES, first: period === start })
        slots.set(key, list)
      }
    }
  })

  const head = h(
    'tr',
    {},
    h(
      'th',
      { scope: 'col', class: 'tt-corner' },
      h('span', { class: 'sr-only' }, m().timetable.period),
    ),
    DAYS.map((day) => h('th', { scope: 'col', abbr: dayName(day) }, dayLabel(day))),
  )
  const rows = []
  for (let period = 1; period <= periods; period += 1) {
    rows.push(
      h(
        'tr',
        {},
        h('th', { scope: 'row', class: 'tt-period' }, `${period}`),
        DAYS.map((day) => cell(day, period, slots.get(`${day}-${period}`) ?? [])),
      ),
    )
  }
  return h(
    'table',
    { class: 'timetable', dataset: { testid: 'timetable' } },
    h('caption', { class: 'sr-only' }, m().timetable.caption(periods)),
    h('thead', {}, head),
    h('tbody', {}, rows),
  )
}

/** @param {string} day @param {number} period @param {Slot[]} entries */
function cell(day, period, entries) {
  /** @type {Record<string, string>} */
  const dataset = { testid: 'timetable-cell', day, period: String(period) }
  if (entries.length === 0) return h('td', { class: 'tt-cell', dataset })
  dataset.courseId = entries.map((e) => e.course.courseId).join(' ')
  const classes = ['tt-cell', 'taken', `tone-${entries[0]?.tone ?? 0}`]
  if (entries.length > 1) classes.push('clash')
  if (entries.every((e) => e.first)) classes.push('tt-start')
  return h(
    'td',
    { class: classes.join(' '), dataset },
    entries.map((entry) =>
      entry.first
        ? h(
            'span',
            { class: 'tt-course' },
            h('span', { class: 'tt-title' }, entry.course.title),
            entry.meeting.room ? h('span', { class: 'tt-room' }, entry.meeting.room) : null,
          )
        : h('span', { class: 'sr-only' }, m().timetable.continued(entry.course.title)),
    ),
  )
}
