/**
 * JSON schemas of the /api/v1 requests and answers. Fastify validates requests with them,
 * serialises answers with them, and @fastify/swagger publishes them as the OpenAPI document.
 * An answer field missing here would be dropped by the serialiser: the API tests check that no
 * answer loses a field (server/testing/openapi-check.ts).
 */

/** `{"error": "<human message>"}`: every 4xx and 5xx answer of the API. */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string', description: 'What went wrong, for a human.' } },
} as const

/** The error answers every route can give: bad input, no or wrong token, rate limit, busy database. */
export const errorResponses = {
  '4xx': { description: 'Refused: the message says why.', ...errorSchema },
  '5xx': {
    description: 'Our fault, or the database is busy for a moment (503, Retry-After).',
    ...errorSchema,
  },
} as const

const isoInstant = { type: 'string', format: 'date-time', description: 'ISO-8601 UTC instant.' } as const
const nullableInstant = { type: ['string', 'null'], format: 'date-time' } as const

/** A person as the API shows them. */
export const personSchema = {
  type: 'object',
  required: ['id', 'firstName', 'lastName'],
  properties: {
    id: { type: 'integer' },
    firstName: { type: 'string' },
    lastName: { type: 'string' },
  },
} as const

/** Presence of the caller: in or out, since when, and a visit left open on an earlier day. */
const presenceProperties = {
  present: { type: 'boolean', description: 'Signed in now (today).' },
  since: { ...nullableInstant, description: 'When the current visit began; null when out.' },
  openVisitSince: {
    ...isoInstant,
    description: 'Present only when a visit from an earlier day is still open (not counted as inside).',
  },
} as const

/** A short text field of a JSON body. */
const text = (maxLength: number, description?: string) =>
  ({ type: 'string', maxLength, ...(description ? { description } : {}) }) as const

/** The bearer token header, named for the document (the auth plugin checks it). */
const bearer = [{ bearerAuth: [] }]

export const codeRequestSchema = {
  summary: 'Send a one-time login code',
  description: 'Sends a 6-digit code by SMS or email. Answers the same whether or not the contact is known.',
  tags: ['auth'],
  body: {
    type: 'object',
    required: ['contact'],
    additionalProperties: false,
    properties: { contact: text(320, 'An email address or a mobile number.') },
  },
  response: {
    202: {
      description: 'Sent (or silently ignored for an unknown contact).',
      type: 'object',
      required: ['sent'],
      properties: { sent: { type: 'boolean', const: true } },
    },
    ...errorResponses,
  },
} as const

export const verifySchema = {
  summary: 'Exchange a login code for a device token',
  description:
    'A new person must also give a name (422 asks for it, and the code stays usable). The token is shown once.',
  tags: ['auth'],
  body: {
    type: 'object',
    required: ['contact', 'code'],
    additionalProperties: false,
    properties: {
      contact: text(320),
      code: text(60, 'The 6-digit code.'),
      firstName: text(60),
      lastName: text(60),
    },
  },
  response: {
    200: {
      description: 'The bearer token for this device and who it belongs to.',
      type: 'object',
      required: ['token', 'person'],
      properties: {
        token: { type: 'string', description: 'Send as "Authorization: Bearer <token>".' },
        person: personSchema,
      },
    },
    ...errorResponses,
  },
} as const

export const meSchema = {
  summary: 'Who I am and whether I am in',
  tags: ['register'],
  security: bearer,
  response: {
    200: {
      description: 'The caller and their presence.',
      type: 'object',
      required: ['person', 'present', 'since'],
      properties: { person: personSchema, ...presenceProperties },
    },
    ...errorResponses,
  },
} as const

const tapSchema = (what: string) =>
  ({
    summary: what,
    description:
      'One tap. An Idempotency-Key header makes a retried request return the first answer instead of acting again.',
    tags: ['register'],
    security: bearer,
    headers: {
      type: 'object',
      properties: {
        'idempotency-key': {
          type: 'string',
          description: '1 to 200 visible ASCII characters, unique per tap.',
        },
      },
    },
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        at: {
          type: 'string',
          maxLength: 40,
          description:
            "When the person tapped, ISO-8601 with a zone (e.g. 2026-12-01T08:55:00Z), for a tap sent late (the door's dead spot). Not in the future, at most 12 hours ago, and never before the person's last recorded change (409).",
        },
      },
    },
    response: {
      200: {
        description: 'The presence after the tap; `changed` is false when it was already so.',
        type: 'object',
        required: ['present', 'since', 'changed', 'message'],
        properties: {
          ...presenceProperties,
          changed: { type: 'boolean' },
          message: { type: 'string', description: 'What happened, for a human.' },
        },
      },
      ...errorResponses,
    },
  }) as const

export const signInSchema = tapSchema('Sign in')
export const signOutSchema = tapSchema('Sign out')

const visitSchema = {
  type: 'object',
  required: [
    'id',
    'personId',
    'firstName',
    'lastName',
    'date',
    'signedInAt',
    'signedOutAt',
    'minutes',
    'status',
  ],
  properties: {
    id: { type: 'integer' },
    personId: { type: 'integer' },
    firstName: { type: 'string' },
    lastName: { type: 'string' },
    date: { type: 'string', format: 'date', description: 'Local day of the building.' },
    signedInAt: isoInstant,
    signedOutAt: nullableInstant,
    minutes: { type: ['integer', 'null'] },
    status: {
      type: 'string',
      enum: [
        'open',
        'signed-out',
        'auto-closed',
        'closed-by-admin',
        'closed-by-directory',
        'closed-by-deactivation',
      ],
    },
  },
} as const

export const visitsSchema = {
  summary: 'Visits that started in a date range (admin)',
  description:
    'Streamed page by page. `Accept: text/csv` gives the same rows as CSV. Dates are local days of the building; both default to today.',
  tags: ['reports'],
  security: bearer,
  querystring: {
    type: 'object',
    properties: {
      from: text(40, 'First day, YYYY-MM-DD.'),
      to: text(40, 'Last day, YYYY-MM-DD.'),
    },
  },
  response: {
    200: {
      description: 'The visits, oldest first.',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['from', 'to', 'timeZone', 'visits'],
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              timeZone: { type: 'string' },
              visits: { type: 'array', items: visitSchema },
            },
          },
        },
        'text/csv': { schema: { type: 'string' } },
      },
    },
    ...errorResponses,
  },
} as const

export const presenceSchema = {
  summary: 'The fire list now: in, unconfirmed (with the reason), visitors (reception)',
  description:
    'The same list as the reception board and the roll call (docs/reception.md#the-fire-list). Built once per change and shared by every screen that asks. Send the last ETag as If-None-Match to get 304 while nothing changed.',
  tags: ['reception'],
  security: bearer,
  response: {
    200: {
      description: 'Everyone who may be inside, by name.',
      type: 'object',
      required: ['count', 'counts', 'people', 'visitors'],
      properties: {
        count: {
          type: 'integer',
          description: 'People on the fire list (not visits): in + unconfirmed + visitors.',
        },
        counts: {
          type: 'object',
          required: ['in', 'unconfirmed', 'visitors', 'total'],
          properties: {
            in: { type: 'integer' },
            unconfirmed: { type: 'integer' },
            visitors: { type: 'integer' },
            total: { type: 'integer' },
          },
        },
        people: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'id',
              'firstName',
              'lastName',
              'group',
              'since',
              'lastActivity',
              'confirmed',
              'reason',
              'tellApart',
            ],
            properties: {
              id: { type: 'integer' },
              firstName: { type: 'string' },
              lastName: { type: 'string' },
              group: { type: 'string', enum: ['in', 'unconfirmed'] },
              since: isoInstant,
              lastActivity: { ...isoInstant, description: 'The sign-in or a later "Still here" answer.' },
              confirmed: { type: 'boolean', description: 'True for the In group.' },
              reason: {
                type: ['object', 'null'],
                description: 'Why the person is unconfirmed; null when in.',
                required: ['kind', 'at', 'text'],
                properties: {
                  kind: { type: 'string', enum: ['reminded', 'still-here', 'auto-closed', 'earlier-day'] },
                  at: isoInstant,
                  text: { type: 'string', description: 'e.g. "reminded 17:30, no answer".' },
                },
              },
              tellApart: {
                type: ['string', 'null'],
                description: 'Set when another person on the list has the same name (e.g. "phone …3456").',
              },
            },
          },
        },
        visitors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'name', 'company', 'host', 'since', 'confirmed'],
            properties: {
              id: { type: 'integer', description: 'The visit (visitors have no person record).' },
              name: { type: 'string' },
              company: { type: 'string', description: 'Empty when the visitor gave none.' },
              host: { type: ['string', 'null'], description: 'Whom they are visiting.' },
              since: isoInstant,
              confirmed: { type: 'boolean', description: 'False when the visit began on an earlier day.' },
            },
          },
        },
      },
    },
    304: { description: 'Not modified since the ETag sent in If-None-Match.', type: 'null' },
    ...errorResponses,
  },
} as const
