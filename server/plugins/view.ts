import view from '@fastify/view'
import { Eta } from 'eta'
import fp from 'fastify-plugin'
import * as time from '../lib/site-time.js'
import { rememberTemplatePaths } from '../lib/template-paths.js'
import { viewsDir } from '../paths.js'

declare module 'fastify' {
  interface FastifyReply {
    /** Renders a page with the layout's common data: site, person, CSRF token, flash messages. */
    page(template: string, data?: Record<string, unknown>): Promise<string>
  }
}

/** What a search engine or a shared link shows under the page title (pages may give their own). */
const DESCRIPTION = 'Sign in and out of the building with one tap, and see who is inside.'

/** Eta templates from server/views with a `reply.page()` helper that fills the layout. */
export default fp(
  async (app) => {
    const { config } = app.ctx
    const eta = rememberTemplatePaths(
      new Eta({ views: viewsDir, cache: config.NODE_ENV === 'production', autoEscape: true }),
    )
    await app.register(view, { engine: { eta }, templates: viewsDir })
    const assets = (file: string) => app.assets.url(file)
    const tz = config.TIME_ZONE
    const fmt = {
      time: (ms: number) => time.formatTime(ms, tz),
      day: (ms: number) => time.formatDay(ms, tz),
      dateTime: (ms: number) => time.formatDateTime(ms, tz),
    }
    app.decorateReply('page', async function (template: string, data: Record<string, unknown> = {}) {
      this.type('text/html; charset=utf-8')
      // Reading flash messages rewrites the session (a fresh Set-Cookie); read them only when there are some.
      const pending = this.request.session.get('flash') as Record<string, unknown> | undefined
      const flash = (pending && Object.keys(pending).length > 0 ? this.flash() : {}) as Record<
        string,
        string[] | undefined
      >
      return this.viewAsync(`pages/${template}.eta`, {
        siteName: config.SITE_NAME,
        person: this.request.person ?? null,
        csrfToken: this.csrfToken(),
        flash: { info: flash.info ?? [], error: flash.error ?? [] },
        fmt,
        asset: assets,
        description: DESCRIPTION,
        errors: {},
        values: {},
        ...data,
      })
    })
  },
  { name: 'view', dependencies: ['context', 'session', 'static'] },
)
