/**
 * The demo semester the embedded mode seeds into an empty database: about sixty courses of a
 * Korean university's spring term (Korean titles and professors, sections, weekly meetings in
 * rooms) and 2,000 students S000001..S002000 in years 1-4, all with one password.
 *
 * Generated from a fixed seed, so every new database gets the same semester and the README can
 * name courses and students. Periods (교시) are 50-minute slots on the hour, 1교시 at 09:00 up to
 * 12교시 at 20:00: a 3-credit course meets twice a week for two periods (about an hour and a half
 * each: 월·수 or 화·목) or once for a three-period block; 4-credit science courses add a lab.
 */
import type { Day, Meeting } from '../domain/model.js'
import { hashPassword, seedCost } from '../domain/passwords.js'
import type { SeedCourseRow, SeedRows, SeedStore, SeedStudentRow } from '../seed.js'
import { prng, type Random } from './random.js'

/** The password of every demo student. */
export const DEMO_PASSWORD = 'sugang-demo'
/** How many demo students there are (S000001 up to this). */
export const DEMO_STUDENTS = 2_000
/** The student the console suggests logging in as. */
export const DEMO_LOGIN = 'S000001'

const SEED = 20260302 // the first day of the spring term

const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T

/** Picks by weight: [item, weight] pairs. */
function weighted<T>(random: Random, items: ReadonlyArray<readonly [T, number]>): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0)
  let r = random() * total
  for (const [item, w] of items) {
    r -= w
    if (r < 0) return item
  }
  return (items[items.length - 1] as readonly [T, number])[0]
}

// Surnames roughly as common as they are in Korea (per mille of the population, rounded).
const SURNAMES: ReadonlyArray<readonly [string, number]> = [
  ['김', 215],
  ['이', 147],
  ['박', 84],
  ['최', 47],
  ['정', 44],
  ['강', 23],
  ['조', 21],
  ['윤', 20],
  ['장', 19],
  ['임', 17],
  ['한', 15],
  ['오', 15],
  ['서', 15],
  ['신', 14],
  ['권', 14],
  ['황', 14],
  ['안', 13],
  ['송', 13],
  ['전', 11],
  ['홍', 11],
  ['유', 10],
  ['고', 9],
  ['문', 9],
  ['양', 8],
  ['손', 8],
  ['배', 8],
  ['백', 7],
  ['허', 6],
  ['남', 5],
  ['노', 4],
]

/** Given names common among students born around 2003-2006. */
const STUDENT_NAMES: readonly string[] = (
  '민준 서준 도윤 예준 시우 하준 주원 지호 지후 준우 준서 건우 도현 현우 지훈 우진 선우 서진 민재 연우 ' +
  '유준 정우 승우 승현 시윤 준혁 은우 지환 승민 지우 서연 서윤 지유 서현 민서 하은 하윤 윤서 지민 채원 ' +
  '수아 지아 지윤 은서 다은 예은 수빈 소율 예린 하린 가은 유진 채은 민지 예나 수연 나연 서영 다인 시은'
).split(' ')

/** Given names of a generation of professors. */
const PROFESSOR_NAMES: readonly string[] = (
  '영수 정호 성민 상훈 재원 동현 준영 태호 광수 병철 미경 혜진 은정 수진 지영 현주 선영 경희 윤정 정아 ' +
  '승철 기영 종민 형준 석진 희정 명숙 순영 재훈 민호'
).split(' ')

interface Department {
  /** Course code prefix (three letters). */
  readonly code: string
  /** Where its classes meet. */
  readonly building: string
  /** Professors on its staff. */
  readonly staff: number
}

const DEPARTMENTS: Readonly<Record<string, Department>> = {
  CSE: { code: 'CSE', building: '공학관', staff: 6 },
  EEE: { code: 'EEE', building: '공학관', staff: 3 },
  MEC: { code: 'MEC', building: '제2공학관', staff: 2 },
  MAT: { code: 'MAT', building: '자연과학관', staff: 4 },
  PHY: { code: 'PHY', building: '자연과학관', staff: 2 },
  CHM: { code: 'CHM', building: '자연과학관', staff: 2 },
  BIO: { code: 'BIO', building: '생명과학관', staff: 2 },
  ECO: { code: 'ECO', building: '사회과학관', staff: 4 },
  BUS: { code: 'BUS', building: '경영관', staff: 5 },
  POL: { code: 'POL', building: '사회과학관', staff: 2 },
  PSY: { code: 'PSY', building: '사회과학관', staff: 2 },
  SOC: { code: 'SOC', building: '사회과학관', staff: 1 },
  KOR: { code: 'KOR', building: '인문관', staff: 3 },
  ENG: { code: 'ENG', building: '외국어교육관', staff: 3 },
  HIS: { code: 'HIS', building: '인문관', staff: 2 },
  PHI: { code: 'PHI', building: '인문관', staff: 2 },
  PED: { code: 'PED', building: '체육관', staff: 1 },
  MUS: { code: 'MUS', building: '예술관', staff: 1 },
  ART: { code: 'ART', building: '예술관', staff: 1 },
}

/** How a course meets in a week. */
type Pattern = 'pair' | 'block' | 'lab' | 'short'

interface Offering {
  readonly dept: keyof typeof DEPARTMENTS
  readonly number: string
  readonly title: string
  readonly credits: number
  /** Seats per section: [least, most]. */
  readonly capacity: readonly [number, number]
  readonly sections: number
  readonly pattern: Pattern
}

const o = (
  dept: keyof typeof DEPARTMENTS,
  number: string,
  title: string,
  credits: number,
  capacity: readonly [number, number],
  sections = 1,
  pattern: Pattern = credits >= 4 ? 'lab' : credits === 3 ? 'pair' : 'short',
): Offering => ({ dept, number, title, credits, capacity, sections, pattern })

/** The spring term's offerings; several popular ones run in sections (분반). */
const OFFERINGS: readonly Offering[] = [
  // 컴퓨터공학과
  o('CSE', '1010', '컴퓨터프로그래밍', 3, [60, 80], 2),
  o('CSE', '2010', '자료구조', 3, [60, 80], 2),
  o('CSE', '2020', '이산수학', 3, [50, 70]),
  o('CSE', '2030', '컴퓨터구조', 3, [50, 70]),
  o('CSE', '3010', '알고리즘', 3, [50, 70], 2),
  o('CSE', '3020', '운영체제', 3, [50, 70]),
  o('CSE', '3030', '데이터베이스', 3, [50, 70]),
  o('CSE', '3040', '컴퓨터네트워크', 3, [40, 60]),
  o('CSE', '4010', '소프트웨어공학', 3, [40, 60], 1, 'block'),
  o('CSE', '4020', '인공지능', 3, [60, 90]),
  o('CSE', '4030', '기계학습', 3, [40, 60]),
  o('CSE', '4040', '컴파일러', 3, [30, 40]),
  // 전자공학과, 기계공학과
  o('EEE', '2010', '회로이론', 3, [50, 70]),
  o('EEE', '2020', '전자기학', 3, [40, 60]),
  o('EEE', '3010', '신호및시스템', 3, [40, 60]),
  o('MEC', '2010', '정역학', 3, [50, 70]),
  o('MEC', '2020', '열역학', 3, [50, 70]),
  // 자연과학
  o('MAT', '1010', '미적분학1', 3, [80, 120], 2),
  o('MAT', '2010', '선형대수학', 3, [60, 90], 2),
  o('MAT', '2020', '확률및통계', 3, [60, 90]),
  o('MAT', '2030', '미분방정식', 3, [50, 70]),
  o('MAT', '3010', '해석학1', 3, [30, 45]),
  o('PHY', '1010', '일반물리학및실험1', 4, [80, 120], 2),
  o('PHY', '2010', '현대물리학', 3, [30, 50]),
  o('CHM', '1010', '일반화학및실험1', 4, [80, 120]),
  o('BIO', '1010', '일반생물학', 3, [80, 120]),
  // 사회과학, 경영
  o('ECO', '1010', '경제학원론', 3, [150, 200], 2),
  o('ECO', '2010', '미시경제학', 3, [60, 90]),
  o('ECO', '2020', '거시경제학', 3, [60, 90]),
  o('ECO', '3010', '계량경제학', 3, [40, 60]),
  o('ECO', '3020', '국제무역론', 3, [40, 60]),
  o('BUS', '1010', '경영학원론', 3, [150, 200]),
  o('BUS', '1020', '회계원리', 3, [80, 120], 2),
  o('BUS', '2010', '마케팅원론', 3, [80, 120]),
  o('BUS', '2020', '재무관리', 3, [60, 90]),
  o('BUS', '2030', '조직행동론', 3, [60, 90]),
  o('BUS', '3010', '경영전략', 3, [40, 60], 1, 'block'),
  o('POL', '1010', '정치학개론', 3, [100, 150]),
  o('POL', '2010', '국제정치론', 3, [50, 70]),
  o('PSY', '1010', '심리학개론', 3, [120, 180]),
  o('PSY', '3010', '인지심리학', 3, [30, 45]),
  o('SOC', '1010', '사회학개론', 3, [100, 150]),
  // 인문
  o('KOR', '1010', '글쓰기와말하기', 2, [25, 30], 2),
  o('KOR', '2010', '현대문학의이해', 3, [40, 60]),
  o('ENG', '1010', '대학영어1', 2, [25, 30], 3),
  o('ENG', '2010', '영미문학개론', 3, [40, 60]),
  o('HIS', '1010', '서양사개론', 3, [60, 90]),
  o('HIS', '2010', '한국근현대사', 3, [80, 120]),
  o('PHI', '1010', '논리와비판적사고', 3, [60, 90]),
  o('PHI', '2010', '윤리학', 3, [40, 60], 1, 'block'),
  // 교양: the small ones fill in front of a visitor's eyes.
  o('PED', '1010', '생활체육(배드민턴)', 1, [30, 40]),
  o('PED', '1020', '생활체육(테니스)', 1, [4, 4]),
  o('MUS', '1010', '교양합창', 1, [3, 3]),
  o('ART', '1010', '도자기공예', 2, [5, 5]),
  o('CSE', '4990', '졸업프로젝트세미나', 3, [4, 4], 1, 'block'),
]

const PAIRS: ReadonlyArray<readonly [Day, Day]> = [
  ['MON', 'WED'],
  ['TUE', 'THU'],
]
const WEEKDAYS: readonly Day[] = ['MON', 'TUE', 'WED', 'THU', 'FRI']

/** Where a course meets: a room of its department's building (floor and number). */
function roomOf(random: Random, building: string, pattern: Pattern): string {
  if (building === '체육관') return `${building} ${pick(random, ['체육실1', '체육실2', '코트'])}`
  if (building === '예술관' && pattern !== 'pair')
    return `${building} ${pick(random, ['B101', 'B102', '201'])}`
  const floor = 1 + Math.floor(random() * 5)
  const number = 1 + Math.floor(random() * 12)
  return `${building} ${floor}${String(number).padStart(2, '0')}`
}

/** Weekly meetings for a course of the given pattern (periods 1-12). */
function meetingsOf(random: Random, pattern: Pattern, room: string, lab: string): Meeting[] {
  switch (pattern) {
    case 'pair': {
      // Two 2-period sessions on paired days, starting on the hour between 09:00 and 17:00.
      const [a, b] = pick(random, PAIRS)
      const start = 1 + Math.floor(random() * 9)
      return [
        { day: a, start, end: start + 1, room },
        { day: b, start, end: start + 1, room },
      ]
    }
    case 'block': {
      // One 3-period block, morning or afternoon (seminars, studio courses).
      const start = pick(random, [1, 2, 5, 6, 7])
      return [{ day: pick(random, WEEKDAYS), start, end: start + 2, room }]
    }
    case 'lab': {
      // A 2 x 2-period lecture and a 3-period lab in the afternoon of another day.
      const [a, b] = pick(random, PAIRS)
      const start = 1 + Math.floor(random() * 4)
      const labDay = pick(
        random,
        WEEKDAYS.filter((d) => d !== a && d !== b),
      )
      const labStart = pick(random, [5, 6, 7])
      return [
        { day: a, start, end: start + 1, room },
        { day: b, start, end: start + 1, room },
        { day: labDay, start: labStart, end: labStart + 2, room: lab },
      ]
    }
    case 'short': {
      // 1-2 credits: one 2-period session, some in the evening.
      const start = 1 + Math.floor(random() * 11)
      return [{ day: pick(random, WEEKDAYS), start, end: start + 1, room }]
    }
  }
}

/** A name: surname and given name, e.g. 김민준. */
function name(random: Random, given: readonly string[]): string {
  return `${weighted(random, SURNAMES)}${pick(random, given)}`
}

export type DemoStudent = Omit<SeedStudentRow, 'passwordHash'>

export interface DemoSemester {
  readonly courses: readonly SeedCourseRow[]
  readonly students: readonly DemoStudent[]
}

export const demoStudentId = (n: number): string => `S${String(n).padStart(6, '0')}`

/** The demo semester; the same every time. */
export function demoSemester(): DemoSemester {
  const random = prng(SEED)

  const staff = new Map<string, string[]>()
  const used = new Set<string>()
  for (const dept of Object.values(DEPARTMENTS)) {
    const names: string[] = []
    while (names.length < dept.staff) {
      const professor = name(random, PROFESSOR_NAMES)
      if (used.has(professor)) continue
      used.add(professor)
      names.push(professor)
    }
    staff.set(dept.code, names)
  }

  const courses: SeedCourseRow[] = []
  for (const offering of OFFERINGS) {
    const dept = DEPARTMENTS[offering.dept] as Department
    const professors = staff.get(dept.code) as string[]
    const [least, most] = offering.capacity
    for (let section = 1; section <= offering.sections; section += 1) {
      const capacity =
        least === most ? least : least + 5 * Math.floor((random() * (most - least + 5)) / 5)
      const room = roomOf(random, dept.building, offering.pattern)
      const lab = `${dept.building} 실험실${1 + Math.floor(random() * 4)}`
      courses.push({
        id: `${dept.code}${offering.number}-${String(section).padStart(2, '0')}`,
        title: offering.title,
        professor: pick(random, professors),
        credits: offering.credits,
        capacity: Math.min(most, capacity),
        meetings: meetingsOf(random, offering.pattern, room, lab),
      })
    }
  }

  const students: DemoStudent[] = []
  for (let n = 1; n <= DEMO_STUDENTS; n += 1) {
    const id = demoStudentId(n)
    students.push({
      id,
      name: name(random, STUDENT_NAMES),
      email: `${id.toLowerCase()}@students.example.ac.kr`,
      year: 1 + Math.floor(random() * 4),
      maxCredits: weighted(random, [
        [18, 70],
        [19, 15],
        [20, 10],
        [21, 5],
      ]),
    })
  }
  return { courses, students }
}

/** The demo semester's rows, every student's password hashed at the cheap seed cost. */
async function demoRows(password: string): Promise<Required<SeedRows>> {
  const { courses, students } = demoSemester()
  const hashed: SeedStudentRow[] = []
  const chunk = 100
  for (let i = 0; i < students.length; i += chunk) {
    const part = students.slice(i, i + chunk)
    const hashes = await Promise.all(part.map(() => hashPassword(password, seedCost)))
    part.forEach((s, j) => hashed.push({ ...s, passwordHash: hashes[j] as string }))
  }
  return { students: hashed, courses }
}

/**
 * Seeds the demo semester into an empty store (a new embedded database); a store with any
 * student or course is left as it is. Each student's password is hashed at the cheap seed cost
 * (recorded in the hash; a login upgrades it). Returns what was seeded, or null when the store
 * was not empty.
 */
export async function seedDemoSemester(
  store: SeedStore,
): Promise<{ readonly courses: number; readonly students: number } | null> {
  if (!(await store.isEmpty())) return null
  const rows = await demoRows(DEMO_PASSWORD)
  // Checked again after hashing: another start-up may have seeded meanwhile.
  if (!(await store.isEmpty())) return null
  await store.insertSeed(rows)
  return { courses: rows.courses.length, students: rows.students.length }
}

/**
 * `sugang seed --demo`: the demo semester into either store, after deleting everything with
 * `reset`; without it, over what is there (students get the password again, courses keep their
 * enrollments).
 */
export async function seedDemo(
  store: SeedStore,
  options: { readonly reset: boolean; readonly password?: string },
): Promise<{ readonly courses: number; readonly students: number }> {
  const rows = await demoRows(options.password ?? DEMO_PASSWORD)
  if (options.reset) await store.deleteAll()
  await store.insertSeed(rows)
  return { courses: rows.courses.length, students: rows.students.length }
}
