import { Type } from '@sinclair/typebox'

const DateTime = Type.String({ format: 'date-time' })

/** What every open page is told of the operator controls in force (domain/operations.ts). */
export const NoticeView = Type.Object(
  {
    announcement: Type.Union(
      [
        Type.Object(
          {
            id: Type.String({
              description:
                'New for every announcement: a page that closed this one keeps it closed.',
            }),
            ko: Type.String({ description: 'The text in Korean.' }),
            en: Type.String({ description: 'The text in English.' }),
            since: DateTime,
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'The banner to show on every page; null: none.' },
    ),
    pauses: Type.Array(
      Type.Object(
        {
          courseId: Type.Union([Type.String(), Type.Null()], {
            description: 'The course whose requests wait; null: every course.',
          }),
          reason: Type.String({ description: 'Why, as the operator gave it: shown to students.' }),
          since: DateTime,
        },
        { additionalProperties: false },
      ),
      {
        description:
          'Admission paused: requests of these courses (every course, for courseId null) keep their places in the queue and are not decided until it is resumed.',
      },
    ),
    windowVersion: Type.String({
      description:
        "Changes whenever an operator moves the registration window ('' while it was never moved; today the time of the last move). A page asks GET /api/v1/me for its window again when it changes.",
    }),
  },
  { additionalProperties: false },
)
