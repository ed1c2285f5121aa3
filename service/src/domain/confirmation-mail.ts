/**
 * The confirmation e-mail itself: Korean first, then English, as plain text and HTML. The
 * content is the enrollment as MySQL committed it; nothing here needs the service to answer.
 */
import type { ClaimedConfirmation, OutgoingMail } from './confirmations.js'
import type { Day, Meeting } from './model.js'

export interface MailSettings {
  /** Where students see their timetable, linked from the message (the service's public URL). */
  readonly siteUrl?: string
}

const DAY_KO: Record<Day, string> = {
  MON: '월',
  TUE: '화',
  WED: '수',
  THU: '목',
  FRI: '금',
  SAT: '토',
}
const DAY_EN: Record<Day, string> = {
  MON: 'Mon',
  TUE: 'Tue',
  WED: 'Wed',
  THU: 'Thu',
  FRI: 'Fri',
  SAT: 'Sat',
}

function periods(m: Meeting): string {
  return m.start === m.end ? `${m.start}` : `${m.start}-${m.end}`
}

function meetingsKo(meetings: readonly Meeting[]): string {
  if (meetings.length === 0) return '시간 미정'
  return meetings
    .map((m) => `${DAY_KO[m.day]} ${periods(m)}교시${m.room ? ` (${m.room})` : ''}`)
    .join(', ')
}

function meetingsEn(meetings: readonly Meeting[]): string {
  if (meetings.length === 0) return 'time to be announced'
  return meetings
    .map((m) => `${DAY_EN[m.day]} period ${periods(m)}${m.room ? ` (${m.room})` : ''}`)
    .join(', ')
}

function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** Strips line breaks from a header value: a course title must never start a new header. */
function headerSafe(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim()
}

export function renderConfirmation(
  confirmation: ClaimedConfirmation,
  settings: MailSettings = {},
): OutgoingMail {
  const { student, course, kind } = confirmation
  const title = headerSafe(course.title)
  const subject =
    kind === 'promoted'
      ? `[수강신청] 대기 후 수강 확정: ${title} / Enrolled from the waitlist: ${title}`
      : `[수강신청] 수강 확정: ${title} / Enrollment confirmed: ${title}`

  const leadKo =
    kind === 'promoted'
      ? `${student.name}님, 대기 중이던 과목에 자리가 나서 수강이 확정되었습니다.`
      : `${student.name}님, 수강신청이 확정되었습니다.`
  const leadEn =
    kind === 'promoted'
      ? `Dear ${student.name}, a seat opened in a course you were waitlisted for, and you are now enrolled.`
      : `Dear ${student.name}, your enrollment is confirmed.`
  const factsKo: [string, string][] = [
    ['과목', `${course.id} ${course.title}`],
    ['담당 교수', course.professor],
    ['학점', `${course.credits}`],
    ['시간', meetingsKo(course.meetings)],
    ['학번', student.id],
  ]
  const factsEn: [string, string][] = [
    ['Course', `${course.id} ${course.title}`],
    ['Professor', course.professor],
    ['Credits', `${course.credits}`],
    ['Time', meetingsEn(course.meetings)],
    ['Student ID', student.id],
  ]
  const linkKo = settings.siteUrl ? `시간표 확인: ${settings.siteUrl}` : ''
  const linkEn = settings.siteUrl ? `Your timetable: ${settings.siteUrl}` : ''
  const footerKo = '이 메일은 발신 전용입니다. 수강 취소는 수강신청 사이트에서 할 수 있습니다.'
  const footerEn = 'This is an automated message. You can drop the course on the registration site.'

  const textBlock = (lead: string, facts: [string, string][], link: string, footer: string) => [
    lead,
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    ...(link ? ['', link] : []),
    '',
    footer,
  ]
  const text = [
    ...textBlock(leadKo, factsKo, linkKo, footerKo),
    '',
    '----------------------------------------',
    '',
    ...textBlock(leadEn, factsEn, linkEn, footerEn),
    '',
  ].join('\n')

  const htmlBlock = (
    lang: string,
    lead: string,
    facts: [string, string][],
    link: string,
    footer: string,
  ) =>
    `<section lang="${lang}"><p>${escapeHtml(lead)}</p><table>` +
    facts
      .map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
      .join('') +
    `</table>` +
    (link && settings.siteUrl
      ? `<p><a href="${escapeHtml(settings.siteUrl)}">${escapeHtml(link)}</a></p>`
      : '') +
    `<p><small>${escapeHtml(footer)}</small></p></section>`
  const html =
    `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>` +
    htmlBlock('ko', leadKo, factsKo, linkKo, footerKo) +
    '<hr>' +
    htmlBlock('en', leadEn, factsEn, linkEn, footerEn) +
    '</body></html>'

  return {
    to: student.email,
    subject,
    text,
    html,
    tags: { kind, course: course.id },
  }
}
