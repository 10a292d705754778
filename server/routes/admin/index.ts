import type { FastifyInstance } from 'fastify'
import auditRoutes from './audit.js'
import directoryRoutes from './directory.js'
import invitationRoutes from './invitations.js'
import kioskRoutes from './kiosks.js'
import messageRoutes from './messages.js'
import peopleRoutes from './people.js'
import statsRoutes from './stats.js'
import tokenRoutes from './tokens.js'
import webhookRoutes from './webhooks.js'

/**
 * Admin pages under /admin: people, audit log, statistics and exports, integration tokens. Each
 * area is its own plugin; a new area is a new file registered here with one line.
 */
export default async function adminRoutes(app: FastifyInstance): Promise<void> {
  // Before validation and CSRF: someone without the role learns nothing about the forms.
  app.addHook('preValidation', app.requireCookiePerson)
  app.addHook('preValidation', app.requireRole('admin'))
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })

  app.get('/', async (_request, reply) => reply.redirect('/admin/people', 303))

  await app.register(peopleRoutes)
  await app.register(auditRoutes)
  await app.register(statsRoutes)
  await app.register(tokenRoutes)
  await app.register(messageRoutes)
  await app.register(directoryRoutes)
  await app.register(invitationRoutes)
  await app.register(kioskRoutes)
  await app.register(webhookRoutes)
}
