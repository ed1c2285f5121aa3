// Korean wording of everything the API can say: error codes, rejection reasons, meeting times.

export const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

export const DAY_LABELS = {
  MON: '월',
  TUE: '화',
  WED: '수',
  THU: '목',
  FRI: '금',
  SAT: '토',
}

export const DAY_NAMES = {
  MON: '월요일',
  TUE: '화요일',
  WED: '수요일',
  THU: '목요일',
  FRI: '금요일',
  SAT: '토요일',
}

/** Why a request was rejected (the `reason` of a rejected request). */
const REASONS = {
  COURSE_FULL: '정원 초과',
  ALREADY_ENROLLED: '이미 신청됨',
  CREDIT_LIMIT: '학점 초과',
  TIME_CONFLICT: '시간 중복',
  WAITLIST_LIMIT: '대기 신청 한도 초과',
  LEFT_WAITLIST: '대기 취소함',
}

export function reasonText(reason) {
  return REASONS[reason] ?? '신청할 수 없음'
}

const BAD_REQUEST = '요청을 처리할 수 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요.'
const BUSY = '접속이 많아 서버가 혼잡합니다. 잠시 후 다시 시도합니다.'

/** One Korean sentence per error code of the contract (and two of the page's own). */
const ERRORS = {
  INVALID_CREDENTIALS: '학번 또는 비밀번호가 올바르지 않습니다.',
  ACCOUNT_LOCKED:
    '로그인 실패가 많아 이 학번의 로그인이 잠시 잠겼습니다. 전에 이 브라우저로 로그인한 적이 있다면 계속 로그인할 수 있습니다.',
  LOGIN_RATE_LIMITED: '로그인 실패가 너무 많습니다. 잠시 후 다시 시도하세요.',
  UNAUTHENTICATED: '로그인이 필요합니다. 로그인이 만료되었을 수 있습니다.',
  RATE_LIMITED: '요청이 너무 잦습니다. 잠시 후 다시 시도하세요.',
  REGISTRATION_CLOSED: '지금은 수강신청 시간이 아닙니다.',
  COURSE_NOT_FOUND: '없는 과목입니다.',
  COURSE_FULL: '정원이 찼습니다. 대기 신청을 할 수 있습니다.',
  ALREADY_ENROLLED: '이미 신청된 과목입니다.',
  CREDIT_LIMIT: '신청 가능한 최대 학점을 넘습니다.',
  TIME_CONFLICT: '이미 신청한 과목과 시간이 겹칩니다.',
  WAITLIST_LIMIT: '대기 신청 한도를 넘었습니다.',
  NOT_ENROLLED: '신청되어 있지 않은 과목입니다.',
  NOT_WAITLISTED: '대기자 명단에 없습니다. 이미 신청이 완료되었을 수 있습니다.',
  REQUEST_NOT_FOUND: '신청 내역을 찾을 수 없습니다.',
  CART_FULL: '장바구니가 가득 찼습니다. 다른 과목을 먼저 빼세요.',
  NOT_IN_CART: '장바구니에 없는 과목입니다.',
  SERVICE_UNAVAILABLE: '서버가 잠시 응답하지 않습니다. 잠시 후 다시 시도합니다.',
  OVERLOADED: BUSY,
  SHUTTING_DOWN: '서버를 교체하는 중입니다. 잠시 후 다시 시도합니다.',
  NOT_READY: '서버가 준비 중입니다. 잠시 후 다시 시도합니다.',
  VALIDATION_FAILED: '입력 형식이 올바르지 않습니다.',
  INVALID_JSON: BAD_REQUEST,
  INVALID_BODY: BAD_REQUEST,
  BAD_REQUEST: BAD_REQUEST,
  BAD_URL: BAD_REQUEST,
  UNSUPPORTED_MEDIA_TYPE: BAD_REQUEST,
  PAYLOAD_TOO_LARGE: BAD_REQUEST,
  URI_TOO_LONG: BAD_REQUEST,
  HEADERS_TOO_LARGE: BAD_REQUEST,
  REQUEST_TIMEOUT: '요청이 제시간에 전달되지 않았습니다. 다시 시도하세요.',
  NOT_FOUND: '요청한 기능을 찾을 수 없습니다.',
  INTERNAL_ERROR: '서버에서 오류가 났습니다. 잠시 후 다시 시도하세요.',
  NETWORK: '서버에 연결할 수 없습니다. 인터넷 연결을 확인하세요.',
  TIMEOUT: '서버 응답이 늦어지고 있습니다. 잠시 후 다시 시도하세요.',
}

/** The Korean message for an error: an ApiError, or a `{ code }` from a result list. */
export function errorText(error) {
  const code = error?.code
  if (code && Object.hasOwn(ERRORS, code)) return ERRORS[code]
  const status = error?.status ?? 0
  if (status === 429) return ERRORS.RATE_LIMITED
  if (status === 503) return BUSY
  if (status >= 500) return ERRORS.INTERNAL_ERROR
  if (status === 401) return ERRORS.UNAUTHENTICATED
  return '요청을 처리하지 못했습니다. 다시 시도하세요.'
}

/** "월 3-4교시 공학관 301" */
export function formatMeeting(meeting) {
  const day = DAY_LABELS[meeting.day] ?? meeting.day
  const periods =
    meeting.start === meeting.end ? `${meeting.start}교시` : `${meeting.start}-${meeting.end}교시`
  return [day, periods, meeting.room].filter(Boolean).join(' ')
}

export function formatMeetings(meetings) {
  if (!Array.isArray(meetings)) return '시간 정보 없음'
  if (meetings.length === 0) return '시간 미정'
  return meetings.map(formatMeeting).join(', ')
}

/** A duration in words: "45초", "3분", "1시간 5분". */
export function formatSeconds(seconds) {
  const s = Math.max(0, Math.ceil(seconds))
  if (s < 60) return `${s}초`
  const minutes = Math.ceil(s / 60)
  if (minutes < 60) return `${minutes}분`
  const hours = Math.floor(minutes / 60)
  const rest = minutes % 60
  return rest ? `${hours}시간 ${rest}분` : `${hours}시간`
}

/** An honest estimate, or nothing when there is none: "약 40초", "약 3분". */
export function formatWait(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return ''
  if (seconds < 120) return `약 ${Math.max(1, Math.round(seconds))}초`
  return `약 ${Math.round(seconds / 60)}분`
}

/** What a request's status element says. */
export function requestStatusText(view) {
  switch (view.status) {
    case 'checking':
      return '상태 확인 중…'
    case 'queued': {
      const place = view.position ? `대기열 ${view.position}번째` : '대기열에서 차례를 기다리는 중'
      const wait = formatWait(view.estimatedWaitSeconds)
      return wait ? `${place} · ${wait}` : place
    }
    case 'waitlisted':
      return view.position ? `대기자 명단 ${view.position}번` : '대기자 명단에 올라 있음'
    case 'enrolled':
      return '신청 완료'
    case 'rejected':
      if (view.reason === 'LEFT_WAITLIST') return '대기를 취소했습니다'
      return `신청 실패 — ${reasonText(view.reason)}`
    case 'unknown':
      return '신청 내역을 더는 확인할 수 없습니다. 내 시간표를 확인하세요.'
    default:
      return ''
  }
}

const COLLATOR_SPACE = /\s+/g

/** For search: case-insensitive, composed Hangul, spaces ignored ("자료 구조" finds "자료구조"). */
export function normalizeSearch(value) {
  return String(value ?? '')
    .normalize('NFC')
    .toLowerCase()
    .replace(COLLATOR_SPACE, '')
}
