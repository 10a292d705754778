import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { findVisitOf, listAllDevices, listRecentVisits, searchPeople } from '../../admin/people.repository.js'
import {
  adminCloseVisit,
  adminRename,
  deactivatePerson,
  mergePeople,
  reactivatePerson,
} from '../../admin/people.service.js'
import { listAuditForPerson } from '../../audit/audit.repository.js'
import { listAuditActions, searchAudit } from '../../audit/audit-log.repository.js'
import { maskContact, parseContact } from '../../identity/contact.js'
import { findContactByValue, listContacts } from '../../identity/contact.repository.js'
import { listIntegrationTokens } from '../../identity/integration-token.repository.js'
import {
  createIntegrationToken,
  revokeToken,
  TokenFormError,
} from '../../identity/integration-token.service.js'
import { NameError } from '../../identity/person.js'
import { findPersonById } from '../../identity/person.repository.js'
import { roles } from '../../identity/roles.js'
import { type AdminActor, setRole } from '../../identity/roles.service.js'
import { UserError } from '../../lib/errors.js'
import { localDateTime, localDay } from '../../lib/site-time.js'
import { dailyVisitorsSvg, heatmapSvg, weekdayNames } from '../../reports/charts.js'
import { parseDateRange } from '../../reports/date-range.js'
import { contentTypes, type ExportFormat, writeExport, writeExportPages } from '../../reports/export.js'
import {
  buildStats,
  summaryColumns,
  summaryRows,
  visitColumns,
  visitExportPages,
  visitStatus,
} from '../../reports/reports.service.js'
import { idParams, textFields } from '../schemas.js'

const shortText = (max: number) => ({ type: 'string', maxLength: max }) as const

/** Admin pages under /admin: people, audit log, statistics and exports, integration tokens. */
export default async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const tz = config.TIME_ZONE
  // Before validation and CSRF: someone without the role learns nothing about the forms.
  app.addHook('preValidation', app.requireCookiePerson)
  app.addHook('preValidation', app.requireRole('admin'))
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest): AdminActor => ({
    personId: request.person!.id,
    at: clock.now(),
    context: request.auditContext,
  })
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

  app.get('/', async (_request, reply) => reply.redirect('/admin/people', 303))

  app.get<{ Querystring: { q?: string } }>(
    '/people',
    { schema: { querystring: { type: 'object', properties: { q: shortText(200) } } } },
    async (request, reply) => {
      const q = (request.query.q ?? '').trim()
      const parsed = q ? parseContact(q, config.DEFAULT_PHONE_REGION) : undefined
      const people = await searchPeople(db, q, 101, parsed?.ok ? parsed.contact.value : undefined)
      return reply.page('admin/people', {
        q,
        more: people.length > 100,
        people: people.slice(0, 100).map((p) => ({ ...p, contact: p.contact ? maskContact(p.contact) : '' })),
      })
    },
  )

  const personPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    id: number,
    data: Record<string, unknown> = {},
  ) => {
    const person = await findPersonById(db, id)
    if (!person) throw new UserError(404, 'There is no such person.')
    const [contacts, visits, devices, audit] = await Promise.all([
      listContacts(db, id),
      listRecentVisits(db, id, 30),
      listAllDevices(db, id, 30),
      listAuditForPerson(db, id, 50),
    ])
    return reply.page('admin/person', {
      subject: person,
      self: person.id === request.person!.id,
      contacts: contacts.map((c) => ({ kind: c.kind, masked: maskContact(c.value) })),
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
    { ...csrf, schema: { params: idParams, body: textFields(['firstName', 'lastName'], [], 60) } },
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
      const other = await findOther(request.body.other)
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
        const keep = await findPersonById(db, id)
        if (!keep) throw new UserError(404, 'There is no such person.')
        return reply.page('admin/merge', { keep, remove: other })
      }
      return act(request, reply, id, async () => {
        const result = await mergePeople(db, actor(request), id, other.id)
        if (result.closedVisit) events.emit('change', { personId: id, action: 'closed', at: clock.now() })
        return `Merged #${other.id} into this person: ${result.contacts} contact(s), ${result.visits} visit(s), ${result.devices} device(s) moved.`
      })
    },
  )

  const findOther = async (text: string) => {
    const value = text.trim().replace(/^#/, '')
    if (/^\d{1,15}$/.test(value)) return findPersonById(db, Number(value))
    const parsed = parseContact(value, config.DEFAULT_PHONE_REGION)
    if (!parsed.ok) return undefined
    const contact = await findContactByValue(db, parsed.contact.value)
    return contact ? findPersonById(db, contact.person_id) : undefined
  }

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
        const visit = await findVisitOf(db, id, visitId)
        const leftAt = localDateTime(request.body.day.trim(), request.body.time.trim(), tz)
        await adminCloseVisit(db, actor(request), {
          personId: id,
          visitId,
          leftAt,
          note: request.body.note ?? '',
        })
        if (visit) events.emit('change', { personId: id, action: 'closed', at: clock.now() })
        return 'Visit closed.'
      })
    },
  )

  const pageSize = 50
  app.get<{ Querystring: { person?: string; action?: string; from?: string; to?: string; page?: number } }>(
    '/audit',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            person: shortText(320),
            action: shortText(80),
            from: shortText(20),
            to: shortText(20),
            page: { type: 'integer', minimum: 1, maximum: 100_000 },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query
      const page = q.page ?? 1
      const filtered = Boolean(q.from || q.to)
      const range = filtered
        ? parseDateRange({ from: q.from, to: q.to }, { timeZone: tz, now: clock.now() })
        : undefined
      let personId: number | undefined
      let unknownPerson = false
      if (q.person?.trim()) {
        const found = await findOther(q.person)
        if (found) personId = found.id
        else unknownPerson = true
      }
      const { rows, more } = unknownPerson
        ? { rows: [], more: false }
        : await searchAudit(
            db,
            { personId, action: q.action?.trim() || undefined, from: range?.fromMs, to: range?.toMs },
            { offset: (page - 1) * pageSize, limit: pageSize },
          )
      const params = (p: number) => {
        const s = new URLSearchParams()
        for (const key of ['person', 'action', 'from', 'to'] as const) if (q[key]) s.set(key, String(q[key]))
        s.set('page', String(p))
        return `/admin/audit?${s}`
      }
      return reply.page('admin/audit', {
        rows,
        actions: await listAuditActions(db),
        query: {
          person: q.person ?? '',
          action: q.action ?? '',
          from: range?.from ?? '',
          to: range?.to ?? '',
        },
        unknownPerson,
        page,
        prev: page > 1 ? params(page - 1) : null,
        next: more ? params(page + 1) : null,
      })
    },
  )

  const rangeQuery = { type: 'object', properties: { from: shortText(40), to: shortText(40) } } as const

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/stats',
    { schema: { querystring: rangeQuery } },
    async (request, reply) => {
      const site = { timeZone: tz, now: clock.now() }
      const range = parseDateRange(request.query, site)
      const stats = await buildStats(db, range, site)
      return reply.page('admin/stats', {
        stats,
        weekdayNames,
        dailySvg: dailyVisitorsSvg(stats.days, 'chart-daily'),
        heatmapSvg: heatmapSvg(stats.heatmap, 'chart-heatmap'),
        exportQuery: `from=${range.from}&to=${range.to}`,
      })
    },
  )

  app.get<{
    Querystring: { from?: string; to?: string; report?: 'visits' | 'summary'; format?: ExportFormat }
  }>(
    '/export',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...rangeQuery.properties,
            report: { type: 'string', enum: ['visits', 'summary'] },
            format: { type: 'string', enum: ['csv', 'xlsx'] },
          },
        },
      },
    },
    async (request, reply) => {
      const site = { timeZone: tz, now: clock.now() }
      const range = parseDateRange(request.query, site)
      const report = request.query.report ?? 'visits'
      const format = request.query.format ?? 'csv'
      const out = new PassThrough()
      const done =
        report === 'visits'
          ? writeExportPages(format, visitExportPages(db, range, site), visitColumns, out, 'Visits')
          : writeExport(format, await summaryRows(db, range, site), summaryColumns, out, 'Summary')
      done.catch((error: unknown) => {
        request.log.error({ err: error }, 'export failed')
        out.destroy(error instanceof Error ? error : new Error(String(error)))
      })
      reply
        .header('content-type', contentTypes[format])
        .header(
          'content-disposition',
          `attachment; filename="${report}-${range.from}-to-${range.to}.${format}"`,
        )
      return reply.send(out)
    },
  )

  const tokensPage = async (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('admin/tokens', { tokens: await listIntegrationTokens(db), roles, newToken: null, ...data })

  app.get('/tokens', async (_request, reply) => tokensPage(reply))

  app.post<{ Body: { name: string; role: string } }>(
    '/tokens',
    { ...csrf, schema: { body: textFields(['name', 'role'], [], 120) } },
    async (request, reply) => {
      try {
        const { token, row } = await createIntegrationToken(db, actor(request), request.body)
        // Shown once, on this response only: never stored in the session or a redirect.
        return await tokensPage(reply, { newToken: { token, name: row.name, role: row.role } })
      } catch (error) {
        if (!(error instanceof TokenFormError)) throw error
        reply.code(422)
        return tokensPage(reply, { errors: error.errors, values: request.body })
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/tokens/:id/revoke',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      try {
        const row = await revokeToken(db, actor(request), request.params.id)
        request.flash('info', `The token “${row.name}” no longer works.`)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/admin/tokens', 303)
    },
  )
}
