import type { FastifyInstance } from 'fastify'
import { readAuditLog } from '../../admin/audit-log.service.js'
import { shortText } from './shared.js'

/** /admin/audit: the audit log, filtered by person, action and dates, a page at a time. */
export default async function auditRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx

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
      const { rows, more, actions, range, unknownPerson } = await readAuditLog(
        db,
        { ...q, page },
        {
          timeZone: config.TIME_ZONE,
          now: clock.now(),
          defaultRegion: config.DEFAULT_PHONE_REGION,
          pageSize,
        },
      )
      const params = (p: number) => {
        const s = new URLSearchParams()
        for (const key of ['person', 'action', 'from', 'to'] as const) if (q[key]) s.set(key, String(q[key]))
        s.set('page', String(p))
        return `/admin/audit?${s}`
      }
      return reply.page('admin/audit', {
        rows,
        actions,
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
}
