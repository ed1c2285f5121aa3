// @ts-check
// The page in Korean. Two places are told apart everywhere: the place in the queue of the
// opening rush ("처리 대기 · 앞에 N명": people ahead) and the place on a full course's waitlist
// ("빈자리 대기 N번째": waiting for a seat to free up).

/** @param {string} word 을 or 를 after a word, by its last syllable. */
function eul(word) {
  const code = String(word).trim().slice(-1).charCodeAt(0)
  if (code >= 0xac00 && code <= 0xd7a3) return (code - 0xac00) % 28 ? '을' : '를'
  return '을(를)'
}

/** @param {string} word 과 or 와 after a word, by its last syllable. */
function gwa(word) {
  const code = String(word).trim().slice(-1).charCodeAt(0)
  if (code >= 0xac00 && code <= 0xd7a3) return (code - 0xac00) % 28 ? '과' : '와'
  return '와(과)'
}

/** @param {string[]} titles "자료구조, 운영체제" with the particle the last one takes. */
const listWith = (titles) => `${titles.join(', ')}${gwa(titles.at(-1) ?? '')}`

export const KO = {
  /** The page's fixed texts (index.html, data-i18n). */
  static: {
    skipMain: '본문으로 건너뛰기',
    skipRush: '신청 버튼으로 건너뛰기',
    siteTitle: '수강신청',
    langSwitch: 'English',
    logout: '로그아웃',
    loading: '불러오는 중…',
    loginTitle: '로그인',
    studentId: '학번',
    password: '비밀번호',
    loginSubmit: '로그인',
    appTitle: '수강신청',
    checkingWindow: '신청 기간 확인 중…',
    rushBar: '수강신청 시각과 신청 버튼',
    coursesTitle: '개설 과목',
    searchRegion: '과목 검색',
    search: '검색',
    searchPlaceholder: '과목명, 교수, 과목번호',
    day: '요일',
    allDays: '전체',
    MON: '월요일',
    TUE: '화요일',
    WED: '수요일',
    THU: '목요일',
    FRI: '금요일',
    SAT: '토요일',
    seatsOnly: '여석 있는 과목만',
    cartTitle: '장바구니',
    cartHint:
      '신청 시작 전에 담아 두세요. 시작되면 담은 순서대로 한 번에 신청하고, 위에 있는 과목일수록 먼저 처리됩니다.',
    cartRequestAll: '장바구니 전체 신청',
    waitTitle: '신청 처리 대기 중',
    waitHint: '페이지를 새로 고쳐도 순서는 그대로입니다.',
    requestsTitle: '신청 현황',
    requestsEmpty: '아직 신청한 과목이 없습니다.',
    timetableTitle: '내 시간표',
    enrolledEmpty: '확정된 과목이 아직 없습니다.',
    confirmNo: '아니요',
    noticeRegion: '공지',
    noticeDismiss: '닫기',
    noticeDismissName: '공지 닫기',
  },
  days: {
    short: { MON: '월', TUE: '화', WED: '수', THU: '목', FRI: '금', SAT: '토' },
    long: {
      MON: '월요일',
      TUE: '화요일',
      WED: '수요일',
      THU: '목요일',
      FRI: '금요일',
      SAT: '토요일',
    },
  },
  reasons: {
    COURSE_FULL: '정원 초과',
    ALREADY_ENROLLED: '이미 신청됨',
    CREDIT_LIMIT: '학점 초과',
    TIME_CONFLICT: '시간 중복',
    WAITLIST_LIMIT: '빈자리 대기 한도 초과',
    LEFT_WAITLIST: '빈자리 대기 취소',
  },
  reasonOther: '신청할 수 없음',
  errors: {
    INVALID_CREDENTIALS: '학번 또는 비밀번호가 올바르지 않습니다.',
    ACCOUNT_LOCKED:
      '로그인 실패가 많아 이 학번의 로그인이 잠시 잠겼습니다. 전에 이 브라우저로 로그인한 적이 있다면 계속 로그인할 수 있습니다.',
    LOGIN_RATE_LIMITED: '로그인 실패가 너무 많습니다. 잠시 후 다시 시도하세요.',
    UNAUTHENTICATED: '로그인이 필요합니다. 로그인이 만료되었을 수 있습니다.',
    RATE_LIMITED: '요청이 너무 잦습니다. 잠시 후 다시 시도하세요.',
    REGISTRATION_CLOSED: '지금은 수강신청 시간이 아닙니다.',
    COURSE_NOT_FOUND: '없는 과목입니다.',
    COURSE_FULL: '정원이 찼습니다. 빈자리 대기를 신청할 수 있습니다.',
    ALREADY_ENROLLED: '이미 신청된 과목입니다.',
    CREDIT_LIMIT: '신청할 수 있는 최대 학점을 넘습니다.',
    TIME_CONFLICT: '이미 신청한 과목과 시간이 겹칩니다.',
    WAITLIST_LIMIT: '빈자리 대기는 더 신청할 수 없습니다. 다른 과목의 대기를 먼저 취소하세요.',
    NOT_ENROLLED: '신청되어 있지 않은 과목입니다.',
    NOT_WAITLISTED: '빈자리 대기 명단에 없습니다. 이미 신청이 완료되었을 수 있습니다.',
    REQUEST_NOT_FOUND: '신청 내역을 찾을 수 없습니다.',
    CART_FULL: '장바구니가 가득 찼습니다. 다른 과목을 먼저 빼세요.',
    NOT_IN_CART: '장바구니에 없는 과목입니다.',
    CART_CHANGED: '다른 창에서 장바구니가 바뀌었습니다. 다시 불러왔으니 순서를 확인하세요.',
    SERVICE_UNAVAILABLE: '서버가 잠시 응답하지 않습니다. 잠시 후 다시 시도합니다.',
    OVERLOADED: '접속이 많아 서버가 혼잡합니다. 잠시 후 다시 시도합니다.',
    SHUTTING_DOWN: '서버를 교체하는 중입니다. 잠시 후 다시 시도합니다.',
    NOT_READY: '서버가 준비 중입니다. 잠시 후 다시 시도합니다.',
    VALIDATION_FAILED: '입력 형식이 올바르지 않습니다.',
    BAD_REQUEST: '요청을 처리할 수 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요.',
    REQUEST_TIMEOUT: '요청이 제시간에 전달되지 않았습니다. 다시 시도하세요.',
    NOT_FOUND: '요청한 기능을 찾을 수 없습니다.',
    INTERNAL_ERROR: '서버에서 오류가 났습니다. 잠시 후 다시 시도하세요.',
    NETWORK: '서버에 연결할 수 없습니다. 인터넷 연결을 확인하세요.',
    TIMEOUT: '서버 응답이 늦어지고 있습니다. 잠시 후 다시 시도하세요.',
  },
  errorOther: '요청을 처리하지 못했습니다. 다시 시도하세요.',
  /** @param {string} day @param {number} start @param {number} end @param {string} room */
  meeting: (day, start, end, room) =>
    [day, start === end ? `${start}교시` : `${start}-${end}교시`, room].filter(Boolean).join(' '),
  meetingsUnknown: '시간 정보 없음',
  meetingsNone: '시간 미정',
  /** @param {number} n */
  seconds: (n) => `${n}초`,
  /** @param {number} n */
  minutes: (n) => `${n}분`,
  /** @param {number} h @param {number} rest */
  hours: (h, rest) => (rest ? `${h}시간 ${rest}분` : `${h}시간`),
  /** @param {number} n */
  aboutSeconds: (n) => `약 ${n}초`,
  /** @param {number} n */
  aboutMinutes: (n) => `약 ${n}분`,
  /** @param {number} days @param {string} clock */
  countdownDays: (days, clock) => `${days}일 ${clock}`,
  /** @param {number} d @param {number} h @param {number} min @param {number} s */
  spokenDuration: (d, h, min, s) => {
    const parts = []
    if (d) parts.push(`${d}일`)
    if (h) parts.push(`${h}시간`)
    if (min) parts.push(`${min}분`)
    if (s || parts.length === 0) parts.push(`${s}초`)
    return parts.join(' ')
  },
  locale: 'ko-KR',
  status: {
    checking: '상태 확인 중…',
    /** @param {number} ahead */
    queued: (ahead) => (ahead > 0 ? `처리 대기 · 앞에 ${ahead}명` : '처리 대기 · 바로 다음 차례'),
    queuedNoPlace: '처리 순서를 기다리는 중',
    /** @param {string} wait */
    estimate: (wait) => `예상 ${wait}`,
    /** @param {number} n */
    waitlisted: (n) => `빈자리 대기 ${n}번째`,
    waitlistedNoPlace: '빈자리 대기 중',
    enrolled: '신청 완료',
    leftWaitlist: '빈자리 대기를 취소했습니다',
    /** @param {string} reason */
    rejected: (reason) => `신청 실패 — ${reason}`,
    unknown: '신청 내역을 더는 확인할 수 없습니다. 내 시간표를 확인하세요.',
  },
  login: {
    busy: '로그인 중…',
    /** @param {string} t */
    retryIn: (t) => `${t} 후 다시 시도`,
    needId: '학번을 입력하세요.',
    badId: '학번은 영문자와 숫자로 16자까지입니다.',
    needPassword: '비밀번호를 입력하세요.',
    badFormat: '학번 또는 비밀번호의 형식이 올바르지 않습니다.',
    /** @param {string} message @param {string} t */
    blocked: (message, t) => `${message} (${t} 후 다시 시도할 수 있습니다.)`,
    expired: '로그인이 만료되었습니다. 다시 로그인하세요.',
    loggedOut: '로그아웃했습니다.',
    logoutFailed: '서버에 로그아웃을 알리지 못했습니다. 공용 컴퓨터라면 브라우저를 모두 닫으세요.',
    pageTitle: '로그인 · 수강신청',
    /** @param {string} message @param {string} t */
    reconnect: (message, t) => `${message} ${t} 후 다시 연결합니다.`,
  },
  header: {
    /** @param {number} n */
    year: (n) => `${n}학년`,
    /** @param {number} n */
    maxCredits: (n) => `최대 ${n}학점`,
  },
  registration: {
    pageTitle: '수강신청',
    /** @param {number | null} year */
    before: (year) => (year ? `${year}학년 수강신청 시작까지` : '수강신청 시작까지'),
    /** @param {string} at @param {string | null} closes */
    beforeDetail: (at, closes) => (closes ? `시작 ${at} · 마감 ${closes}` : `시작 ${at}`),
    open: '수강신청 진행 중',
    /** @param {string | null} closes */
    openDetail: (closes) => (closes ? `마감 ${closes}` : '지금 신청할 수 있습니다.'),
    closed: '지금은 수강신청 기간이 아닙니다',
    /** @param {string} at */
    closedAt: (at) => `${at}에 마감되었습니다.`,
    closedHint: '장바구니는 미리 채워 둘 수 있습니다.',
    unknown: '수강신청',
    unknownDetail: '신청 기간을 확인하지 못했습니다. 신청하면 서버가 확인합니다.',
    announceOpen: '수강신청이 시작되었습니다.',
    announceClosed: '수강신청이 마감되었습니다.',
    /** @param {string} spoken */
    milestone: (spoken) => `수강신청 시작까지 ${spoken} 남았습니다.`,
    /** @param {string} at */
    notYet: (at) => `아직 신청 시간이 아닙니다. ${at}에 시작됩니다.`,
    /** @param {string} time */
    serverClock: (time) => `서버 시각 ${time}`,
    /** @param {number} courses @param {number} ahead */
    barWaiting: (courses, ahead) => `${courses}과목 처리 대기 · 앞에 최대 ${ahead}명`,
    /** @param {string} at */
    moved: (at) => `수강신청 시작 시각이 바뀌었습니다: ${at}`,
  },
  courses: {
    /** @param {string} time @param {number} ago */
    updated: (time, ago) => `좌석 ${time} 기준 (${ago}초 전)`,
    /** @param {number} left @param {number} capacity */
    seats: (left, capacity) => `여석 ${left} / 정원 ${capacity}`,
    /** @param {number} capacity */
    noSeats: (capacity) => `여석 없음 (정원 ${capacity})`,
    /** @param {number} capacity */
    seatsChecking: (capacity) => `여석 확인 중… (정원 ${capacity})`,
    /** @param {number} n */
    credits: (n) => `${n}학점`,
    cartAdd: '담기',
    cartRemove: '빼기',
    cartBusy: '처리 중…',
    /** @param {string} title */
    cartAddName: (title) => `${title} 장바구니에 담기`,
    /** @param {string} title */
    cartRemoveName: (title) => `${title} 장바구니에서 빼기`,
    /** @param {string} title */
    cartBusyName: (title) => `${title} 장바구니 처리 중…`,
    loadFailed: '과목 목록을 불러오지 못했습니다.',
    refreshFailed: '좌석 정보를 갱신하지 못했습니다.',
    none: '조건에 맞는 과목이 없습니다.',
    /** @param {number} n */
    all: (n) => `전체 ${n}개 과목`,
    /** @param {number} total @param {number} shown */
    some: (total, shown) => `${total}개 중 ${shown}개 과목`,
    /** @param {string[]} titles */
    conflictEnrolled: (titles) => `이미 신청한 ${listWith(titles)} 시간이 겹쳐 신청할 수 없습니다.`,
    /** @param {string[]} titles */
    conflictCart: (titles) =>
      `장바구니의 ${listWith(titles)} 시간이 겹칩니다. 함께 신청하면 먼저 처리되는 과목만 신청됩니다.`,
  },
  button: {
    request: '신청',
    waitlist: '빈자리 대기 신청',
    sending: '신청 중…',
    checking: '확인 중…',
    /** @param {number} ahead */
    queued: (ahead) => (ahead > 0 ? `처리 대기 · 앞에 ${ahead}명` : '처리 대기 · 다음 차례'),
    queuedNoPlace: '처리 대기 중',
    /** @param {number} n */
    waitlisted: (n) => `빈자리 대기 ${n}번째`,
    waitlistedNoPlace: '빈자리 대기 중',
    enrolled: '신청 완료',
    conflict: '시간 겹침',
    /** @param {number} s */
    autoRetry: (s) => `${s}초 후 자동 재시도`,
    /** @param {number} s */
    retryIn: (s) => `${s}초 후 다시 시도`,
    /** @param {string} title @param {string} label */
    name: (title, label) => `${title} ${label}`,
  },
  notes: {
    courseFull: '정원이 찼습니다. ‘빈자리 대기 신청’을 누르면 대기자 명단에 오릅니다.',
    /** @param {string} t */
    tooFast: (t) => `요청이 너무 잦습니다. ${t} 후 다시 누르세요.`,
    /** @param {string} message */
    retryStopped: (message) => `${message} 자동 재시도를 멈췄습니다. 다시 눌러 신청하세요.`,
    cannotConnect: '서버에 연결하지 못했습니다.',
    busy: '서버가 혼잡합니다.',
    /** @param {string} why @param {string} t */
    autoRetrying: (why, t) => `${why} ${t} 후 자동으로 다시 신청합니다.`,
    accepted: '신청이 접수되었습니다.',
    alreadyAccepted: '이미 접수된 신청입니다.',
    /** @param {string} reason @param {boolean} full */
    notRequested: (reason, full) =>
      `신청되지 않았습니다 — ${reason}.${full ? ' ‘빈자리 대기 신청’을 할 수 있습니다.' : ''}`,
    leftWaitlist: '빈자리 대기를 취소했습니다.',
    /** @param {string} title @param {string} text */
    about: (title, text) => `${title}: ${text}`,
  },
  cart: {
    /** @param {number} n @param {number} credits */
    summary: (n, credits) => `${n}과목 · ${credits}학점`,
    empty: '비어 있음',
    /** @param {number} n */
    requestAll: (n) => (n ? `장바구니 전체 신청 (${n}과목)` : '장바구니 전체 신청'),
    sending: '장바구니 신청 중…',
    armed: '시작 순간 신청 예약됨 · 누르면 취소',
    settled: '모든 과목의 결과가 나왔습니다',
    inProgress: '신청한 과목을 처리하는 중',
    /** @param {string} left @param {number} window */
    notYet: (left, window) =>
      `아직 시작 전입니다 (${left} 남음). 시작 ${window}초 전부터 누르면 시작되는 순간 자동으로 신청합니다.`,
    armedMessage:
      '수강신청이 시작되는 순간 장바구니 전체를 신청합니다. 취소하려면 버튼을 다시 누르세요.',
    disarmed: '시작 순간 신청 예약을 취소했습니다.',
    sendingMessage: '장바구니 과목을 신청하는 중…',
    /** @param {number} waiting @param {number} enrolled @param {number} failed */
    progress: (waiting, enrolled, failed) =>
      [
        waiting ? `${waiting}과목 처리 대기 중` : '',
        enrolled ? `${enrolled}과목 신청 완료` : '',
        failed ? `${failed}과목 신청 실패` : '',
      ]
        .filter(Boolean)
        .join(' · '),
    /** @param {number} enrolled @param {number} failed */
    settledMessage: (enrolled, failed) =>
      `모든 과목의 결과가 나왔습니다: 신청 완료 ${enrolled}과목, 실패 ${failed}과목.${
        enrolled ? ' 신청된 과목은 장바구니에서 뺐습니다.' : ''
      }${failed ? ' 실패한 과목은 사유를 확인하세요.' : ''}`,
    /** @param {string} message */
    loadFailed: (message) => `장바구니를 불러오지 못했습니다. ${message}`,
    /** @param {string} message */
    failed: (message) => `장바구니: ${message}`,
    /** @param {string} title */
    added: (title) => `${title}${eul(title)} 장바구니에 담았습니다.`,
    /** @param {string} title */
    removed: (title) => `${title}${eul(title)} 장바구니에서 뺐습니다.`,
    remove: '빼기',
    /** @param {string} title */
    removeName: (title) => `${title} 장바구니에서 빼기`,
    moveUp: '위로',
    moveDown: '아래로',
    /** @param {string} title */
    moveUpName: (title) => `${title} 위로 (먼저 신청)`,
    /** @param {string} title */
    moveDownName: (title) => `${title} 아래로 (나중에 신청)`,
    /** @param {string} title @param {number} place */
    moved: (title, place) => `${title}${eul(title)} ${place}번째로 옮겼습니다.`,
    conflicts: '장바구니에 시간이 겹치는 과목이 있습니다. 과목별 안내를 확인하세요.',
    windowMoved: '신청 시작 시각이 바뀌어 시작 순간 신청 예약을 취소했습니다.',
  },
  notice: {
    /** @param {string} reason */
    paused: (reason) => `일시 중지 — ${reason} · 순서는 그대로입니다`,
    /** @param {string} reason */
    pausedAll: (reason) =>
      `모든 과목의 신청 처리가 일시 중지되었습니다 — ${reason}. 신청한 순서는 그대로 유지됩니다.`,
  },
  connection: {
    idle: '처리 중인 신청이 없습니다',
    connecting: '실시간 연결 중…',
    live: '실시간 연결됨',
    reconnecting: '연결이 끊겨 다시 연결하는 중 (그동안 직접 확인)',
    /** @param {number | null} s */
    polling: (s) => (s ? `주기적으로 확인 중 · ${s}초 후 다시 확인` : '주기적으로 확인 중'),
    /** @param {number | null} s */
    paused: (s) => `요청이 많아 잠시 멈춤 · ${s ?? 1}초 후 다시 확인`,
    /** @param {number | null} s */
    offline: (s) => (s ? `연결 끊김 · ${s}초 후 다시 시도` : '연결 끊김'),
  },
  requests: {
    /** @param {string} time */
    checkedAt: (time) => `${time} 확인`,
    /** @param {string} time */
    liveChanged: (time) => `실시간 · ${time}에 마지막 변경`,
    /** @param {string} time @param {number} ago */
    lastChecked: (time, ago) => `마지막 확인 ${time} (${ago}초 전)`,
    leave: '빈자리 대기 취소',
    leaving: '취소 중…',
    /** @param {string} title @param {string} label */
    leaveName: (title, label) => `${title} ${label}`,
    /** @param {string} title */
    promoted: (title) => `${title}: 빈자리가 나서 신청되었습니다.`,
  },
  /** A decided request's entry in the fairness record (record.js, docs/fairness.md). */
  record: {
    toggle: '공정성 기록',
    /** @param {string} title */
    toggleName: (title) => `${title} 공정성 기록`,
    loading: '공정성 기록을 불러오는 중…',
    /** @param {number} n */
    arrival: (n) => `접수 번호 ${n}`,
    noArrival: '접수 번호가 기록되지 않았습니다',
    /** @param {number} n */
    before: (n) => `이 과목에 나보다 먼저 접수된 신청 ${n}건`,
    /** @param {number} entries */
    digest: (entries) => `과목 기록 요약: 항목 ${entries}개 · 해시`,
    /** @param {string} time */
    asOf: (time) => `(${time} 기준)`,
    explain:
      '이 요약(항목 수와 해시)은 누구나 저장해 둘 수 있습니다. 나중에도 그 번호의 항목이 같은 해시로 시작하면, 그때까지의 기록이 고쳐 쓰이지 않은 것입니다.',
    notRecorded:
      '이 신청은 공정성 기록 없이 처리되었습니다. 기록을 남기기 전에 처리된 신청에는 기록이 없습니다.',
    notDecided: '아직 처리 중이라 기록이 없습니다. 잠시 후 다시 열어 보세요.',
    /** @param {string} message */
    failed: (message) => `공정성 기록을 불러오지 못했습니다. ${message}`,
    retry: '다시 불러오기',
  },
  wait: {
    /** @param {number} ahead */
    ahead: (ahead) => (ahead > 0 ? `앞에 ${ahead}명` : '바로 다음 차례'),
    /** @param {string} wait */
    estimate: (wait) => `예상 대기 ${wait}`,
    estimating: '예상 시간 계산 중',
    /** @param {string} title */
    progressName: (title) => `${title} 처리 대기 진행`,
  },
  timetable: {
    /** @param {number} total @param {number | null} max */
    credits: (total, max) => (max !== null ? `${total} / ${max} 학점` : `${total} 학점`),
    /** @param {string} message */
    loadFailed: (message) => `시간표를 불러오지 못했습니다. ${message}`,
    /** @param {number} periods */
    caption: (periods) => `주간 시간표: 월요일부터 토요일, 1교시부터 ${periods}교시`,
    period: '교시',
    /** @param {string} title */
    continued: (title) => `${title} (계속)`,
    cancel: '수강 취소',
    cancelling: '취소 중…',
    /** @param {string} title @param {string} label */
    cancelName: (title, label) => `${title} ${label}`,
    /** @param {string} id @param {string} professor @param {number} credits @param {string} meetings */
    meta: (id, professor, credits, meetings) =>
      [id, professor, `${credits}학점`, meetings].filter(Boolean).join(' · '),
  },
  dialog: {
    cancelTitle: '수강 취소',
    cancelYes: '수강 취소',
    /** @param {string} title @param {string} id */
    cancelText: (title, id) =>
      `${title} (${id}) 수강을 취소할까요? 비운 자리는 곧바로 다른 학생에게 넘어가므로 되돌릴 수 없습니다.`,
    /** @param {string} title */
    cancelled: (title) => `${title} 수강을 취소했습니다.`,
    /** @param {string} message */
    cancelFailed: (message) => `수강 취소: ${message}`,
    leaveTitle: '빈자리 대기 취소',
    leaveYes: '대기 취소',
    /** @param {string} title @param {string} id */
    leaveText: (title, id) =>
      `${title} (${id}) 빈자리 대기를 취소할까요? 순번은 곧바로 뒤의 학생들에게 넘어가 되돌릴 수 없습니다. 다시 신청하면 맨 뒤에 섭니다.`,
    /** @param {string} title */
    left: (title) => `${title} 빈자리 대기를 취소했습니다.`,
    /** @param {string} message */
    leaveFailed: (message) => `빈자리 대기 취소: ${message}`,
  },
}
