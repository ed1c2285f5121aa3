// @ts-check
// The page in English, for international students: the same messages as text-ko.js (the type
// checker holds the two to the same shape). Course titles, professors and rooms stay as the
// university names them.

/** @param {number} n @param {string} one @param {string} many */
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`

/** @param {string[]} titles "A, B and C" */
const list = (titles) =>
  titles.length < 2 ? (titles[0] ?? '') : `${titles.slice(0, -1).join(', ')} and ${titles.at(-1)}`

/** @type {typeof import('./text-ko.js').KO} */
export const EN = {
  static: {
    skipMain: 'Skip to main content',
    skipRush: 'Skip to the request button',
    siteTitle: 'Course registration',
    langSwitch: '한국어',
    logout: 'Log out',
    loading: 'Loading…',
    loginTitle: 'Log in',
    studentId: 'Student ID',
    password: 'Password',
    loginSubmit: 'Log in',
    appTitle: 'Course registration',
    checkingWindow: 'Checking the registration period…',
    rushBar: 'Registration time and request button',
    coursesTitle: 'Courses',
    searchRegion: 'Search courses',
    search: 'Search',
    searchPlaceholder: 'Title, professor or course number',
    day: 'Day',
    allDays: 'All days',
    MON: 'Monday',
    TUE: 'Tuesday',
    WED: 'Wednesday',
    THU: 'Thursday',
    FRI: 'Friday',
    SAT: 'Saturday',
    seatsOnly: 'Only courses with seats left',
    cartTitle: 'Cart',
    cartHint:
      'Fill your cart before registration opens. When it opens, the whole cart is requested at once, top course first.',
    cartRequestAll: 'Request the whole cart',
    waitTitle: 'Waiting for your turn',
    waitHint: 'Reloading the page keeps your place.',
    requestsTitle: 'My requests',
    requestsEmpty: 'You have not requested any course yet.',
    timetableTitle: 'My timetable',
    enrolledEmpty: 'No enrollment confirmed yet.',
    confirmNo: 'No',
    noticeRegion: 'Announcement',
    noticeDismiss: 'Close',
    noticeDismissName: 'Close the announcement',
  },
  days: {
    short: { MON: 'Mon', TUE: 'Tue', WED: 'Wed', THU: 'Thu', FRI: 'Fri', SAT: 'Sat' },
    long: {
      MON: 'Monday',
      TUE: 'Tuesday',
      WED: 'Wednesday',
      THU: 'Thursday',
      FRI: 'Friday',
      SAT: 'Saturday',
    },
  },
  reasons: {
    COURSE_FULL: 'course full',
    ALREADY_ENROLLED: 'already enrolled',
    CREDIT_LIMIT: 'over your credit limit',
    TIME_CONFLICT: 'time conflict',
    WAITLIST_LIMIT: 'too many waitlists',
    LEFT_WAITLIST: 'left the waitlist',
  },
  reasonOther: 'not possible',
  errors: {
    INVALID_CREDENTIALS: 'Wrong student ID or password.',
    ACCOUNT_LOCKED:
      'Too many failed logins: this student ID is locked for a while. If you logged in with this browser before, you can still log in.',
    LOGIN_RATE_LIMITED: 'Too many failed logins. Try again later.',
    UNAUTHENTICATED: 'Please log in. Your login may have expired.',
    RATE_LIMITED: 'Too many requests. Try again shortly.',
    REGISTRATION_CLOSED: 'Registration is not open now.',
    COURSE_NOT_FOUND: 'There is no such course.',
    COURSE_FULL: 'The course is full. You can join its waitlist.',
    ALREADY_ENROLLED: 'You are already enrolled in this course.',
    CREDIT_LIMIT: 'This would take you over your credit limit.',
    TIME_CONFLICT: 'This course meets at the same time as one you are enrolled in.',
    WAITLIST_LIMIT: 'You cannot join more waitlists. Leave another one first.',
    NOT_ENROLLED: 'You are not enrolled in this course.',
    NOT_WAITLISTED: 'You are not on this waitlist. You may have been enrolled already.',
    REQUEST_NOT_FOUND: 'The request could not be found.',
    CART_FULL: 'Your cart is full. Remove a course first.',
    NOT_IN_CART: 'That course is not in your cart.',
    CART_CHANGED: 'Your cart changed in another window. It has been reloaded: check its order.',
    SERVICE_UNAVAILABLE: 'The server is not answering right now. Trying again shortly.',
    OVERLOADED: 'The server is very busy. Trying again shortly.',
    SHUTTING_DOWN: 'The server is being replaced. Trying again shortly.',
    NOT_READY: 'The server is starting. Trying again shortly.',
    VALIDATION_FAILED: 'The input is not in the right format.',
    BAD_REQUEST: 'The request could not be handled. Reload the page and try again.',
    REQUEST_TIMEOUT: 'The request did not arrive in time. Try again.',
    NOT_FOUND: 'That feature could not be found.',
    INTERNAL_ERROR: 'Something went wrong on the server. Try again shortly.',
    NETWORK: 'Cannot reach the server. Check your internet connection.',
    TIMEOUT: 'The server is slow to answer. Try again shortly.',
  },
  errorOther: 'The request could not be handled. Try again.',
  meeting: (day, start, end, room) =>
    [day, start === end ? `period ${start}` : `periods ${start}–${end}`, room]
      .filter(Boolean)
      .join(' '),
  meetingsUnknown: 'time unknown',
  meetingsNone: 'time to be announced',
  seconds: (n) => plural(n, 'second', 'seconds'),
  minutes: (n) => plural(n, 'minute', 'minutes'),
  hours: (h, rest) =>
    rest
      ? `${plural(h, 'hour', 'hours')} ${plural(rest, 'minute', 'minutes')}`
      : plural(h, 'hour', 'hours'),
  aboutSeconds: (n) => `about ${plural(n, 'second', 'seconds')}`,
  aboutMinutes: (n) => `about ${plural(n, 'minute', 'minutes')}`,
  countdownDays: (days, clock) => `${plural(days, 'day', 'days')} ${clock}`,
  spokenDuration: (d, h, min, s) => {
    const parts = []
    if (d) parts.push(plural(d, 'day', 'days'))
    if (h) parts.push(plural(h, 'hour', 'hours'))
    if (min) parts.push(plural(min, 'minute', 'minutes'))
    if (s || parts.length === 0) parts.push(plural(s, 'second', 'seconds'))
    return parts.join(' ')
  },
  locale: 'en-GB',
  status: {
    checking: 'Checking…',
    queued: (ahead) =>
      ahead > 0 ? `In line · ${plural(ahead, 'student', 'students')} ahead` : 'In line · next up',
    queuedNoPlace: 'Waiting for its turn',
    estimate: (wait) => `${wait} to go`,
    waitlisted: (n) => `Waitlist place ${n}`,
    waitlistedNoPlace: 'On the waitlist',
    enrolled: 'Enrolled',
    leftWaitlist: 'You left the waitlist',
    rejected: (reason) => `Not enrolled — ${reason}`,
    unknown: 'This request can no longer be checked. See your timetable.',
  },
  login: {
    busy: 'Logging in…',
    retryIn: (t) => `Try again in ${t}`,
    needId: 'Enter your student ID.',
    badId: 'A student ID is up to 16 letters and digits.',
    needPassword: 'Enter your password.',
    badFormat: 'The student ID or password is not in the right format.',
    blocked: (message, t) => `${message} (You can try again in ${t}.)`,
    expired: 'Your login expired. Please log in again.',
    loggedOut: 'You have logged out.',
    logoutFailed:
      'The server could not be told you logged out. On a shared computer, close every browser window.',
    pageTitle: 'Log in · Course registration',
    reconnect: (message, t) => `${message} Reconnecting in ${t}.`,
  },
  header: {
    year: (n) => `Year ${n}`,
    maxCredits: (n) => `up to ${n} credits`,
  },
  registration: {
    pageTitle: 'Course registration',
    before: (year) => (year ? `Registration for year ${year} opens in` : 'Registration opens in'),
    beforeDetail: (at, closes) => (closes ? `Opens ${at} · closes ${closes}` : `Opens ${at}`),
    open: 'Registration is open',
    openDetail: (closes) => (closes ? `Closes ${closes}` : 'You can request courses now.'),
    closed: 'Registration is not open now',
    closedAt: (at) => `It closed on ${at}.`,
    closedHint: 'You can fill your cart in advance.',
    unknown: 'Course registration',
    unknownDetail:
      'The registration period could not be checked. The server checks it when you send a request.',
    announceOpen: 'Registration is open.',
    announceClosed: 'Registration has closed.',
    milestone: (spoken) => `Registration opens in ${spoken}.`,
    notYet: (at) => `Registration is not open yet. It opens ${at}.`,
    serverClock: (time) => `Server time ${time}`,
    barWaiting: (courses, ahead) =>
      `${plural(courses, 'course', 'courses')} in line · up to ${plural(ahead, 'student', 'students')} ahead`,
    /** @param {string} at */
    moved: (at) => `The registration opening has moved: ${at}`,
  },
  courses: {
    updated: (time, ago) => `Seats as of ${time} (${ago}s ago)`,
    seats: (left, capacity) => `${left} of ${capacity} seats left`,
    noSeats: (capacity) => `No seats left (${capacity} seats)`,
    seatsChecking: (capacity) => `Checking seats… (${capacity} seats)`,
    credits: (n) => plural(n, 'credit', 'credits'),
    cartAdd: 'Add',
    cartRemove: 'Remove',
    cartBusy: 'Working…',
    cartAddName: (title) => `Add ${title} to the cart`,
    cartRemoveName: (title) => `Remove ${title} from the cart`,
    cartBusyName: (title) => `${title}: working…`,
    loadFailed: 'The course list could not be loaded.',
    refreshFailed: 'The seats could not be updated.',
    none: 'No course matches.',
    all: (n) => `All ${plural(n, 'course', 'courses')}`,
    some: (total, shown) => `${shown} of ${plural(total, 'course', 'courses')}`,
    conflictEnrolled: (titles) =>
      `Meets at the same time as ${list(titles)}, which you are enrolled in: it cannot be requested.`,
    conflictCart: (titles) =>
      `Meets at the same time as ${list(titles)} in your cart. If you request both, only the one decided first is enrolled.`,
  },
  button: {
    request: 'Request',
    waitlist: 'Join waitlist',
    sending: 'Sending…',
    checking: 'Checking…',
    queued: (ahead) => (ahead > 0 ? `In line · ${ahead} ahead` : 'In line · next up'),
    queuedNoPlace: 'In line',
    waitlisted: (n) => `Waitlist place ${n}`,
    waitlistedNoPlace: 'On the waitlist',
    enrolled: 'Enrolled',
    conflict: 'Time conflict',
    autoRetry: (s) => `Retrying in ${s}s`,
    retryIn: (s) => `Try again in ${s}s`,
    name: (title, label) => `${label}: ${title}`,
  },
  notes: {
    courseFull: 'The course is full. Press “Join waitlist” to wait for a seat.',
    tooFast: (t) => `Too many requests. Press again in ${t}.`,
    retryStopped: (message) =>
      `${message} Automatic retries stopped. Press the button to try again.`,
    cannotConnect: 'Could not reach the server.',
    busy: 'The server is busy.',
    autoRetrying: (why, t) => `${why} Trying again by itself in ${t}.`,
    accepted: 'Your request was received.',
    alreadyAccepted: 'This request was already received.',
    notRequested: (reason, full) =>
      `Not enrolled — ${reason}.${full ? ' You can join the waitlist.' : ''}`,
    leftWaitlist: 'You left the waitlist.',
    about: (title, text) => `${title}: ${text}`,
  },
  cart: {
    summary: (n, credits) =>
      `${plural(n, 'course', 'courses')} · ${plural(credits, 'credit', 'credits')}`,
    empty: 'empty',
    requestAll: (n) =>
      n ? `Request the whole cart (${plural(n, 'course', 'courses')})` : 'Request the whole cart',
    sending: 'Requesting the cart…',
    armed: 'Set to send at the opening · press to cancel',
    settled: 'Every course has its result',
    inProgress: 'Your courses are being decided',
    notYet: (left, window) =>
      `Registration has not opened yet (${left} to go). Press within ${window} seconds of the opening and the cart is sent the moment it opens.`,
    armedMessage:
      'Your whole cart will be requested the moment registration opens. Press the button again to cancel.',
    disarmed: 'Cancelled: the cart will not be sent by itself.',
    sendingMessage: 'Requesting the courses in your cart…',
    progress: (waiting, enrolled, failed) =>
      [
        waiting ? `${plural(waiting, 'course', 'courses')} in line` : '',
        enrolled ? `${enrolled} enrolled` : '',
        failed ? `${failed} not enrolled` : '',
      ]
        .filter(Boolean)
        .join(' · '),
    settledMessage: (enrolled, failed) =>
      `Every course has its result: ${enrolled} enrolled, ${failed} not.${
        enrolled ? ' Enrolled courses were taken out of the cart.' : ''
      }${failed ? ' See why for the others.' : ''}`,
    loadFailed: (message) => `The cart could not be loaded. ${message}`,
    failed: (message) => `Cart: ${message}`,
    added: (title) => `${title} added to the cart.`,
    removed: (title) => `${title} removed from the cart.`,
    remove: 'Remove',
    removeName: (title) => `Remove ${title} from the cart`,
    moveUp: 'Up',
    moveDown: 'Down',
    moveUpName: (title) => `Move ${title} up (requested sooner)`,
    moveDownName: (title) => `Move ${title} down (requested later)`,
    moved: (title, place) => `${title} moved to place ${place}.`,
    conflicts: 'Some courses in your cart meet at the same time. See the note under each.',
    windowMoved: 'The opening has moved, so sending at the opening was cancelled.',
  },
  notice: {
    /** @param {string} reason */
    paused: (reason) => `Paused — ${reason} · you keep your place`,
    /** @param {string} reason */
    pausedAll: (reason) =>
      `Processing of requests is paused for every course — ${reason}. Requests keep their places.`,
  },
  connection: {
    idle: 'No request in progress',
    connecting: 'Connecting for live updates…',
    live: 'Live updates on',
    reconnecting: 'Connection lost, reconnecting (checking directly meanwhile)',
    polling: (s) => (s ? `Checking now and then · next check in ${s}s` : 'Checking now and then'),
    paused: (s) => `Paused: many requests · next check in ${s ?? 1}s`,
    offline: (s) => (s ? `Offline · trying again in ${s}s` : 'Offline'),
  },
  requests: {
    checkedAt: (time) => `Checked ${time}`,
    liveChanged: (time) => `Live · last change ${time}`,
    lastChecked: (time, ago) => `Last checked ${time} (${ago}s ago)`,
    leave: 'Leave waitlist',
    leaving: 'Leaving…',
    leaveName: (title, label) => `${label}: ${title}`,
    promoted: (title) => `${title}: a seat opened up and you are enrolled.`,
  },
  record: {
    toggle: 'Fairness record',
    toggleName: (title) => `Fairness record: ${title}`,
    loading: 'Loading the fairness record…',
    arrival: (n) => `Arrival number ${n}`,
    noArrival: 'No arrival number was recorded',
    before: (n) => `${plural(n, 'request', 'requests')} to this course arrived before yours`,
    digest: (entries) => `Course record digest: ${plural(entries, 'entry', 'entries')} · hash`,
    asOf: (time) => `(as of ${time})`,
    explain:
      'Anyone can save this digest (the number of entries and the hash). If the entry with that number still has a hash starting the same way later, the record up to it was not rewritten.',
    notRecorded:
      'This request was decided without an entry in the fairness record: requests decided before the record was kept have none.',
    notDecided:
      'This request is still being decided, so it has no entry yet. Open this again in a moment.',
    failed: (message) => `The fairness record could not be loaded. ${message}`,
    retry: 'Load again',
  },
  wait: {
    ahead: (ahead) =>
      ahead > 0 ? `${plural(ahead, 'student', 'students')} ahead` : 'You are next',
    estimate: (wait) => `${wait} to go`,
    estimating: 'Working out the wait',
    progressName: (title) => `${title}: progress in line`,
  },
  timetable: {
    credits: (total, max) =>
      max !== null ? `${total} / ${max} credits` : plural(total, 'credit', 'credits'),
    loadFailed: (message) => `The timetable could not be loaded. ${message}`,
    caption: (periods) => `Weekly timetable: Monday to Saturday, periods 1 to ${periods}`,
    period: 'Period',
    continued: (title) => `${title} (continued)`,
    cancel: 'Drop',
    cancelling: 'Dropping…',
    cancelName: (title, label) => `${label}: ${title}`,
    meta: (id, professor, credits, meetings) =>
      [id, professor, plural(credits, 'credit', 'credits'), meetings].filter(Boolean).join(' · '),
  },
  dialog: {
    cancelTitle: 'Drop the course',
    cancelYes: 'Drop',
    cancelText: (title, id) =>
      `Drop ${title} (${id})? The seat goes to another student at once: this cannot be undone.`,
    cancelled: (title) => `You dropped ${title}.`,
    cancelFailed: (message) => `Drop: ${message}`,
    leaveTitle: 'Leave the waitlist',
    leaveYes: 'Leave',
    leaveText: (title, id) =>
      `Leave the waitlist of ${title} (${id})? Your place goes to the students behind you at once: this cannot be undone. Joining again puts you at the end.`,
    left: (title) => `You left the waitlist of ${title}.`,
    leaveFailed: (message) => `Leave the waitlist: ${message}`,
  },
}
