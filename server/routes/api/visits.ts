import { PassThrough, Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { parseDateRange } from '../../reports/date-range.js'
import { contentTypes, writeCsvPages } from '../../reports/export.js'
import { type VisitExportRow, visitColumns, visitExportPages } from '../../reports/reports.service.js'
import { visitsSchema } from './api.schemas.js'

const visitJson = (v: VisitExportRow) => ({
  id: v.visitId,
  personId: v.personId,
  firstName: v.firstName,
  lastName: v.lastName,
  date: v.date,
  signedInAt: v.signedInUtc,
  signedOutAt: v.signedOutUtc || null,
  minutes: v.minutes,
  status: v.status,
})

/** True when the client asked for CSV rather than JSON. */
function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false
  const csv = /text\/csv/.test(accept)
  const json = /application\/json/.test(accept)
  return csv && (!json || accept.indexOf('text/csv') < accept.indexOf('application/json'))
}

/**
 * GET /api/v1/visits?from&to (admin): visits that started in the range, as JSON or, with
 * `Accept: text/csv`, as CSV. Both are streamed page by page, so a year exports in constant memory.
 */
export default async function visitsApiRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  app.addHook('preValidation', app.requireBearerPerson)
  app.addHook('preValidation', app.requireRole('admin'))

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/visits',
    {
      // Compressing a year of visits (100+ MB) costs the web process more CPU than producing it;
      // integrations fetch this over the network they already trust with the data.
      compress: false,
      schema: visitsSchema,
    },
    async (request, reply) => {
      const site = { timeZone: config.TIME_ZONE, now: clock.now() }
      const range = parseDateRange(request.query, site)
      const pages = visitExportPages(db, range, site)
      reply.header('cache-control', 'no-store').header('vary', 'Accept')
      if (wantsCsv(request.headers.accept)) {
        const out = new PassThrough()
        writeCsvPages(pages, visitColumns, out).catch((error: unknown) => {
          request.log.error({ err: error }, 'visits export failed')
          out.destroy(error instanceof Error ? error : new Error(String(error)))
        })
        return reply.header('content-type', contentTypes.csv).send(out)
      }
      async function* json(): AsyncGenerator<string> {
        yield `{"from":${JSON.stringify(range.from)},"to":${JSON.stringify(range.to)},"timeZone":${JSON.stringify(site.timeZone)},"visits":[`
        let first = true
        for await (const page of pages) {
          // One string per page, not per visit.
          yield `${first ? '' : ','}${page.map((row) => JSON.stringify(visitJson(row))).join(',')}`
          first = false
        }
        yield ']}'
      }
      return reply
        .header('content-type', 'application/json; charset=utf-8')
        .send(Readable.from(json(), { highWaterMark: 1 }))
    },
  )
}
