import { Type } from '@sinclair/typebox'
import { RECORD_KINDS } from '../domain/fairness.js'

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' })

/** A course's published digest: where its fairness record ends now. */
export const RecordDigest = Type.Object(
  {
    courseId: Type.String(),
    entries: Type.Integer({
      minimum: 0,
      description: "The course's number of entries: the seq of its last one (0 while it has none).",
    }),
    head: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'The hash of entry number `entries` (64 zeros while there is none).',
    }),
  },
  { additionalProperties: false },
)

/** One decision about a request, as its course's record holds it. */
const RecordEntryView = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, description: 'Its number in the course: 1, 2, 3, ...' }),
    batch: Type.Integer({
      minimum: 1,
      description: 'The seq of the first entry written in the same transaction.',
    }),
    kind: Type.Union(RECORD_KINDS.map((kind) => Type.Literal(kind))),
    reason: Type.Union([Type.String(), Type.Null()], {
      description: 'A rejection or a pass-over: the refusal code. Null otherwise.',
    }),
    enrolled: Type.Integer({ minimum: 0, description: 'Seats taken after this decision.' }),
    capacity: Type.Integer({ minimum: 0 }),
    decidedAt: Type.String({ format: 'date-time' }),
    queuedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        "When the request joined its course's queue, on the queue's clock; null for a decision outside the queue. Part of the hash.",
    }),
    hash: Hash,
    prevHash: Hash,
  },
  { additionalProperties: false },
)

export const RequestRecordView = Type.Object(
  {
    requestId: Type.String(),
    courseId: Type.String(),
    arrival: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: "The request's arrival number in the course's queue.",
    }),
    arrivedBefore: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'How many requests of the course are recorded with an earlier arrival number.',
    }),
    entries: Type.Array(RecordEntryView, {
      description: "The request's entries in seq order; the last one is its decision.",
    }),
    digest: RecordDigest,
  },
  { additionalProperties: false },
)
