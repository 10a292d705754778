import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { dailyVisitorsSvg, heatmapSvg, weekdayNames } from '../../reports/charts.js'
import { parseDateRange } from '../../reports/date-range.js'
import { contentTypes, type ExportFormat, writeExport, writeExportPages } from '../../reports/export.js'
import {
  buildStats,
  summaryColumns,
  summaryRows,
  visitColumns,
  visitExportPages,
  visitorColumns,
  visitorExportRows,
} from '../../reports/reports.service.js'
import { shortText } from './shared.js'

/** /admin/stats and /admin/export: statistics for a date range and their CSV or XLSX download. */
export default async function statsRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  const tz = config.TIME_ZONE

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
    Querystring: {
      from?: string
      to?: string
      report?: 'visits' | 'summary' | 'visitors'
      format?: ExportFormat
    }
  }>(
    '/export',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...rangeQuery.properties,
            report: { type: 'string', enum: ['visits', 'summary', 'visitors'] },
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
          : report === 'visitors'
            ? writeExport(format, await visitorExportRows(db, range, site), visitorColumns, out, 'Visitors')
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
}
