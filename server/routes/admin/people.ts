import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  adminCloseVisit,
  adminRename,
  deactivatePerson,
  findPeople,
  findPersonByReference,
  mergePeople,
  personDetails,
  reactivatePerson,
  requirePerson,
} from '../../admin/people.service.js'
import { NameError } from '../../identity/person.js'
import { roles } from '../../identity/roles.js'
import { setRole } from '../../identity/roles.service.js'
import { UserError } from '../../lib/errors.js'
import { localDateTime, localDay } from '../../lib/site-time.js'
import { visitStatus } from '../../reports/reports.service.js'
import { idParams, textFields } from '../schemas.js'
import { adminActor, shortText } from './shared.js'

/** /admin/people: search, a person's page, and the changes an admin makes to someone. */
export default async function peopleRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const tz = config.TIME_ZONE
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest) => adminActor(request, clock)

  const back = (id: number) => `/admin/people/${id}`

  /** Runs an admin action; a UserError becomes a flash message on the person page. */
  const act = async (
    request: FastifyRequest,
    reply: FastifyReply,
    id: number,
    run: () => Promise<string>,
  ) => {
    try {
      request.flash('info', await run())
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      request.flash('error', error.message)
    }
    return reply.redirect(back(id), 303)
  }

  app.get<{ Querystring: { q?: string } }>(
    '/people',
    { schema: { querystring: { type: 'object', properties: { q: shortText(200) } } } },
    async (request, reply) => {
      const q = (request.query.q ?? '').trim()
      const { people, more } = await findPeople(db, q, config.DEFAULT_PHONE_REGION)
      return reply.page('admin/people', { q, more, people })
    },
  )

  const personPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    id: number,
    data: Record<string, unknown> = {},
  ) => {
    const { person, contacts, visits, devices, audit } = await personDetails(db, id, tz)
    return reply.page('admin/person', {
      subject: person,
      self: person.id === request.person!.id,
      contacts,
      visits: visits.map((v) => ({ ...v, status: visitStatus(v), day: localDay(v.signed_in_at, tz) })),
      devices,
      audit,
      roles,
      ...data,
    })
  }

  app.get<{ Params: { id: number } }>(
    '/people/:id',
    { schema: { params: idParams } },
    async (request, reply) => personPage(request, reply, request.params.id),
  )

  app.post<{ Params: { id: number }; Body: { firstName: string; lastName: string } }>(
    '/people/:id/name',
    { ...csrf, schema: { params: idParams, body: textFields(['firstName', 'lastName'], [], 300) } },
    async (request, reply) => {
      const { id } = request.params
      try {
        await adminRename(db, actor(request), id, request.body)
      } catch (error) {
        if (!(error instanceof NameError)) throw error
        reply.code(422)
        return personPage(request, reply, id, { errors: error.errors, values: request.body })
      }
      request.flash('info', 'Name updated.')
      return reply.redirect(back(id), 303)
    },
  )

  app.post<{ Params: { id: number }; Body: { role: string } }>(
    '/people/:id/role',
    { ...csrf, schema: { params: idParams, body: textFields(['role'], [], 20) } },
    async (request, reply) => {
      const { id } = request.params
      const role = roles.find((r) => r === request.body.role)
      try {
        if (!role) throw new UserError(422, 'Choose staff, reception or admin.')
        const person = await setRole(db, actor(request), id, role)
        request.flash('info', `${person.first_name} ${person.last_name} is now ${role}.`)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
        return reply.redirect(back(id), 303)
      }
      // Someone who just gave up their own admin role cannot see the person page any more.
      return reply.redirect(id === request.person!.id && role !== 'admin' ? '/' : back(id), 303)
    },
  )

  app.post<{ Params: { id: number } }>(
    '/people/:id/deactivate',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const { id } = request.params
      return act(request, reply, id, async () => {
        const result = await deactivatePerson(db, actor(request), id)
        if (result.closedVisit) events.emit('change', { personId: id, action: 'closed', at: clock.now() })
        return `Deactivated. ${result.devicesRevoked} device(s) signed out${result.closedVisit ? ', and their open visit closed' : ''}.`
      })
    },
  )

  app.post<{ Params: { id: number } }>(
    '/people/:id/reactivate',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const { id } = request.params
      return act(request, reply, id, async () => {
        await reactivatePerson(db, actor(request), id)
        return 'Reactivated. They can sign in again with a new code.'
      })
    },
  )

  app.post<{ Params: { id: number }; Body: { other: string; confirm?: string } }>(
    '/people/:id/merge',
    { ...csrf, schema: { params: idParams, body: textFields(['other'], ['confirm'], 320) } },
    async (request, reply) => {
      const { id } = request.params
      const other = await findPersonByReference(db, request.body.other, config.DEFAULT_PHONE_REGION)
      if (!other) {
        request.flash(
          'error',
          'Nobody matches that. Enter the other person’s number (#) or one of their contacts.',
        )
        return reply.redirect(back(id), 303)
      }
      if (other.id === id) {
        request.flash('error', 'That is this same person. Enter the other, duplicate account.')
        return reply.redirect(back(id), 303)
      }
      if (request.body.confirm !== 'yes') {
        const keep = await requirePerson(db, id)
        return reply.page('admin/merge', { keep, remove: other })
      }
      return act(request, reply, id, async () => {
        const result = await mergePeople(db, actor(request), id, other.id, { timeZone: tz })
        if (result.closedVisit) events.emit('change', { personId: id, action: 'closed', at: clock.now() })
        return `Merged #${other.id} into this person: ${result.contacts} contact(s), ${result.visits} visit(s), ${result.devices} device(s) moved.`
      })
    },
  )

  app.post<{ Params: { id: number; visitId: number }; Body: { day: string; time: string; note?: string } }>(
    '/people/:id/visits/:visitId/close',
    {
      ...csrf,
      schema: {
        params: {
          type: 'object',
          required: ['id', 'visitId'],
          properties: { id: idParams.properties.id, visitId: idParams.properties.id },
        },
        body: textFields(['day', 'time'], ['note'], 200),
      },
    },
    async (request, reply) => {
      const { id, visitId } = request.params
      return act(request, reply, id, async () => {
        const leftAt = localDateTime(request.body.day.trim(), request.body.time.trim(), tz)
        await adminCloseVisit(db, actor(request), {
          personId: id,
          visitId,
          leftAt,
          note: request.body.note ?? '',
        })
        events.emit('change', { personId: id, action: 'closed', at: clock.now() })
        return 'Visit closed.'
      })
    },
  )
}
