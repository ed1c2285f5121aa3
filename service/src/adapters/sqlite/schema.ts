/**
 * Schema versions of the embedded store, applied in order and recorded in schema_migrations,
 * each in its own transaction (SQLite's DDL is transactional).
 *
 * Version 1 is the MySQL schema after all of its migrations (adapters/mysql/schema.ts, version
 * 4): the same tables, columns and constraints, in SQLite's types. Identifiers compare with
 * SQLite's default BINARY collation, the byte order MySQL's ascii_bin gives them. Timestamps are
 * ISO 8601 text in UTC with milliseconds, whose text order is their time order. A change to the
 * MySQL schema gets a new version here too.
 */
export const NOW_MS = `(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`

export const migrations: ReadonlyArray<{
  readonly version: number
  readonly statements: string[]
}> = [
  {
    version: 1,
    statements: [
      `CREATE TABLE IF NOT EXISTS students (
          id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 16),
          name TEXT NOT NULL,
          email TEXT NOT NULL,
          password_hash TEXT NOT NULL,
          max_credits INTEGER NOT NULL DEFAULT 18 CHECK (max_credits >= 0),
          year INTEGER NOT NULL DEFAULT 1 CHECK (year >= 0)
        ) STRICT`,
      `CREATE TABLE IF NOT EXISTS courses (
          id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 16),
          title TEXT NOT NULL,
          professor TEXT NOT NULL,
          credits INTEGER NOT NULL CHECK (credits >= 0),
          capacity INTEGER NOT NULL CHECK (capacity >= 0),
          enrolled INTEGER NOT NULL DEFAULT 0 CHECK (enrolled >= 0),
          version INTEGER NOT NULL DEFAULT 0,
          -- The highest arrival number whose decision the store may hold (rules.bulkRejections).
          decided_through INTEGER NOT NULL DEFAULT 0,
          -- Raised by each new admission lease holder; a batch with an older fence is refused.
          admission_fence INTEGER NOT NULL DEFAULT 0,
          -- When the course meets: a JSON array of {day, start, end, room}.
          meetings TEXT NOT NULL DEFAULT '[]',
          CONSTRAINT courses_enrolled_within_capacity CHECK (enrolled <= capacity)
        ) STRICT`,
      `CREATE TABLE IF NOT EXISTS enrollments (
          student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
          course_id TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
          request_id TEXT NULL,
          created_at TEXT NOT NULL DEFAULT ${NOW_MS},
          PRIMARY KEY (student_id, course_id)
        ) STRICT`,
      'CREATE UNIQUE INDEX IF NOT EXISTS enrollments_request ON enrollments (request_id)',
      'CREATE INDEX IF NOT EXISTS enrollments_course ON enrollments (course_id)',
      `CREATE TABLE IF NOT EXISTS waitlist (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          course_id TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
          student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
          request_id TEXT NOT NULL,
          created_at TEXT NOT NULL DEFAULT ${NOW_MS}
        ) STRICT`,
      'CREATE UNIQUE INDEX IF NOT EXISTS waitlist_course_student ON waitlist (course_id, student_id)',
      'CREATE UNIQUE INDEX IF NOT EXISTS waitlist_request ON waitlist (request_id)',
      'CREATE INDEX IF NOT EXISTS waitlist_student ON waitlist (student_id)',
      // SQLite numbers only an INTEGER PRIMARY KEY itself, so seq is the key here and the pair
      // (the MySQL primary key) is unique: the same rows, the same order.
      `CREATE TABLE IF NOT EXISTS cart_items (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
          course_id TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
          added_at TEXT NOT NULL DEFAULT ${NOW_MS}
        ) STRICT`,
      'CREATE UNIQUE INDEX IF NOT EXISTS cart_items_student_course ON cart_items (student_id, course_id)',
      'CREATE INDEX IF NOT EXISTS cart_items_course ON cart_items (course_id)',
    ],
  },
  {
    version: 2,
    statements: [
      // MySQL version 5: the confirmation e-mail outbox (see adapters/mysql/schema.ts).
      `CREATE TABLE IF NOT EXISTS confirmation_outbox (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          request_id TEXT NOT NULL,
          student_id TEXT NOT NULL,
          course_id TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('enrolled', 'promoted')),
          state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'void')),
          attempts INTEGER NOT NULL DEFAULT 0,
          due_at TEXT NOT NULL DEFAULT ${NOW_MS},
          claim_token TEXT NULL,
          created_at TEXT NOT NULL DEFAULT ${NOW_MS},
          finished_at TEXT NULL,
          message_id TEXT NULL,
          last_error TEXT NULL
        ) STRICT`,
      'CREATE UNIQUE INDEX IF NOT EXISTS confirmation_outbox_request ON confirmation_outbox (request_id)',
      'CREATE INDEX IF NOT EXISTS confirmation_outbox_due ON confirmation_outbox (state, due_at)',
    ],
  },
  {
    version: 3,
    statements: [
      // The embedded store's own: sessions, which MySQL deployments keep in Redis. Written
      // through from memory (adapters/sqlite/sessions.ts) so that a restart logs nobody out.
      `CREATE TABLE IF NOT EXISTS sessions (
          id TEXT NOT NULL PRIMARY KEY,
          student_id TEXT NOT NULL,
          expires_at INTEGER NOT NULL
        ) STRICT`,
    ],
  },
  {
    version: 4,
    statements: [
      // MySQL version 6: the fairness record (see adapters/mysql/schema.ts).
      `CREATE TABLE IF NOT EXISTS fairness_record (
          course_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          batch INTEGER NOT NULL,
          kind TEXT NOT NULL,
          student_id TEXT NOT NULL,
          request_id TEXT NULL,
          arrival INTEGER NULL,
          reason TEXT NULL,
          enrolled INTEGER NOT NULL,
          capacity INTEGER NOT NULL,
          decided_at INTEGER NOT NULL,
          prev_hash TEXT NOT NULL,
          hash TEXT NOT NULL,
          PRIMARY KEY (course_id, seq)
        ) STRICT`,
      'CREATE INDEX IF NOT EXISTS fairness_record_request ON fairness_record (request_id)',
      'ALTER TABLE courses ADD COLUMN record_seq INTEGER NOT NULL DEFAULT 0',
      `ALTER TABLE courses ADD COLUMN record_hash TEXT NOT NULL DEFAULT '${'0'.repeat(64)}'`,
    ],
  },
  {
    version: 5,
    statements: [
      // MySQL version 7: operator controls and the operators' actions.
      `CREATE TABLE IF NOT EXISTS operator_controls (
          name TEXT NOT NULL PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT`,
      `CREATE TABLE IF NOT EXISTS operator_actions (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          at TEXT NOT NULL DEFAULT ${NOW_MS},
          operator TEXT NOT NULL,
          action TEXT NOT NULL,
          target TEXT NOT NULL,
          reason TEXT NOT NULL,
          details TEXT NOT NULL
        ) STRICT`,
    ],
  },
  {
    version: 6,
    statements: [
      // MySQL version 8: when a request joined its queue (see adapters/mysql/schema.ts).
      'ALTER TABLE fairness_record ADD COLUMN queued_at INTEGER NULL',
    ],
  },
]
