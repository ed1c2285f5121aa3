/**
 * Schema versions, applied in order and recorded in schema_migrations. Identifiers use an ASCII
 * binary collation so that MySQL's lock order (index order) is the same byte order the service
 * sorts by.
 */
export const migrations: ReadonlyArray<{
  readonly version: number
  readonly statements: string[]
}> = [
  {
    version: 1,
    statements: [
      `CREATE TABLE IF NOT EXISTS students (
          id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          name VARCHAR(100) NOT NULL,
          email VARCHAR(255) NOT NULL,
          password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          max_credits SMALLINT UNSIGNED NOT NULL DEFAULT 18,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS courses (
          id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          title VARCHAR(200) NOT NULL,
          professor VARCHAR(100) NOT NULL,
          credits TINYINT UNSIGNED NOT NULL,
          capacity INT UNSIGNED NOT NULL,
          enrolled INT UNSIGNED NOT NULL DEFAULT 0,
          version BIGINT UNSIGNED NOT NULL DEFAULT 0,
          PRIMARY KEY (id),
          CONSTRAINT courses_enrolled_within_capacity CHECK (enrolled <= capacity)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS enrollments (
          student_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          course_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          request_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
          created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          notified_at DATETIME(3) NULL,
          PRIMARY KEY (student_id, course_id),
          UNIQUE KEY enrollments_request (request_id),
          KEY enrollments_course (course_id),
          KEY enrollments_unnotified (notified_at),
          CONSTRAINT enrollments_student FOREIGN KEY (student_id) REFERENCES students (id) ON DELETE CASCADE,
          CONSTRAINT enrollments_course FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS waitlist (
          id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          course_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          student_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          request_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          PRIMARY KEY (id),
          UNIQUE KEY waitlist_course_student (course_id, student_id),
          UNIQUE KEY waitlist_request (request_id),
          CONSTRAINT waitlist_student FOREIGN KEY (student_id) REFERENCES students (id) ON DELETE CASCADE,
          CONSTRAINT waitlist_course FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 2,
    statements: [
      // decided_through: the highest arrival number whose decision MySQL may hold (an enrollment
      // or a waitlist place); bulk rejection leaves requests at or below it to a batch.
      // admission_fence: raised by each new admission lease holder; a batch carrying an older
      // fence is refused, so a paused or cut-off worker can never commit over its successor.
      `ALTER TABLE courses
          ADD COLUMN decided_through BIGINT UNSIGNED NOT NULL DEFAULT 0,
          ADD COLUMN admission_fence BIGINT UNSIGNED NOT NULL DEFAULT 0`,
    ],
  },
  {
    version: 3,
    statements: [
      // notified_at was reserved for confirmation e-mails and never written or read: the e-mail
      // sender will get a table of its own when it is built.
      'ALTER TABLE enrollments DROP INDEX enrollments_unnotified, DROP COLUMN notified_at',
    ],
  },
  {
    version: 4,
    statements: [
      // When a course meets: a JSON array of {day, start, end, room}, read whole with the course.
      `ALTER TABLE courses ADD COLUMN meetings VARCHAR(2000) NOT NULL DEFAULT '[]'`,
      // The grade year decides when a student's registration window opens.
      `ALTER TABLE students ADD COLUMN year TINYINT UNSIGNED NOT NULL DEFAULT 1`,
      `CREATE TABLE IF NOT EXISTS cart_items (
          student_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          course_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          added_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          PRIMARY KEY (student_id, course_id),
          UNIQUE KEY cart_items_seq (seq),
          CONSTRAINT cart_items_student FOREIGN KEY (student_id) REFERENCES students (id) ON DELETE CASCADE,
          CONSTRAINT cart_items_course FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 5,
    statements: [
      // The confirmation e-mail outbox: written in the transaction that commits an enrollment (a
      // batch admission or a waitlist promotion), so an e-mail is owed exactly when a seat is
      // held. The sender (domain/confirmations.ts) claims rows with SKIP LOCKED and walks them
      // through pending -> sending -> sent | dead | void; due_at is when a pending row may be
      // tried, or when a sending row's claim runs out.
      `CREATE TABLE IF NOT EXISTS confirmation_outbox (
          id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          request_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          student_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          course_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          state VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending',
          attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0,
          due_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          claim_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
          created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          finished_at DATETIME(3) NULL,
          message_id VARCHAR(200) NULL,
          last_error VARCHAR(500) NULL,
          PRIMARY KEY (id),
          UNIQUE KEY confirmation_outbox_request (request_id),
          KEY confirmation_outbox_due (state, due_at),
          CONSTRAINT confirmation_outbox_kind CHECK (kind IN ('enrolled', 'promoted')),
          CONSTRAINT confirmation_outbox_state CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'void'))
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 6,
    statements: [
      // The fairness record (domain/fairness.ts, docs/fairness.md): one row per decision about a
      // course's seats or waitlist, written in the transaction that makes it, chained per course.
      // The course row holds the chain's head, so the next entry is chained under its row lock.
      // No foreign keys: deleting a course or a student must not silently remove its record.
      `CREATE TABLE IF NOT EXISTS fairness_record (
          course_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          seq BIGINT UNSIGNED NOT NULL,
          batch BIGINT UNSIGNED NOT NULL,
          kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          student_id VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          request_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
          arrival BIGINT UNSIGNED NULL,
          reason VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
          enrolled INT UNSIGNED NOT NULL,
          capacity INT UNSIGNED NOT NULL,
          decided_at BIGINT UNSIGNED NOT NULL,
          prev_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          PRIMARY KEY (course_id, seq),
          KEY fairness_record_request (request_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `ALTER TABLE courses
          ADD COLUMN record_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
          ADD COLUMN record_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
            DEFAULT '${'0'.repeat(64)}'`,
    ],
  },
  {
    version: 7,
    statements: [
      // Operator controls in force (domain/operations.ts): pauses, throttles, a moved window, an
      // announcement; one row each, its value JSON. Every instance reads the table every second.
      `CREATE TABLE IF NOT EXISTS operator_controls (
          name VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      // Who did what, when and why: written in the transaction of the change it describes.
      `CREATE TABLE IF NOT EXISTS operator_actions (
          id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          operator VARCHAR(64) NOT NULL,
          action VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          target VARCHAR(40) NOT NULL,
          reason VARCHAR(500) NOT NULL,
          details TEXT NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 8,
    statements: [
      // When a request joined its queue, on the queue's clock (ms): after Redis loses its arrival
      // counter the numbers start again, and the audit orders the two runs of numbers by it.
      'ALTER TABLE fairness_record ADD COLUMN queued_at BIGINT UNSIGNED NULL AFTER arrival',
    ],
  },
]
