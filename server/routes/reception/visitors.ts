import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { searchPeopleByName } from '../../kiosk/name-search.js'
import { UserError } from '../../lib/errors.js'
import { idFromText } from '../../lib/ids.js'
import { checkInInvitation, expectedToday, expectedVisitor } from '../../visitors/invitation.service.js'
import {
  signInVisitor,
  signOutVisitor,
  VisitorFormError,
  type VisitorSource,
} from '../../visitors/visitor.service.js'
import { FORM_USED, newFormKey, oncePerForm, withFormKey } from '../form-key.js'
import { idParams, textFields } from '../schemas.js'

type WalkInBody = {
  name?: string
  company?: string
  host?: string
  hostId?: string
  phone?: string
  email?: string
  formKey?: string
}

const walkInBody = withFormKey(textFields([], ['name', 'company', 'host', 'hostId', 'phone', 'email'], 200))

/** Reception signs visitors in by hand (walk-ins at the desk) and signs any visitor out. */
export default async function receptionVisitorRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE, defaultRegion: config.DEFAULT_PHONE_REGION }
  const csrf = { preValidation: app.csrfProtection }
  const source = (request: FastifyRequest): VisitorSource => ({
    via: 'reception',
    kiosk: null,
    personId: request.person!.id,
    context: request.auditContext,
  })
  const form = async (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('reception/visitor-new', {
      hostChoices: [],
      expected: await expectedToday(app.ctx),
      formKey: newFormKey(),
      ...data,
    })

  app.get('/reception/visitors/new', async (_request, reply) => form(reply))

  app.post<{ Body: WalkInBody }>(
    '/reception/visitors',
    {
      ...csrf,
      schema: { body: walkInBody },
    },
    async (request, reply) => {
      const { formKey, ...body } = request.body
      let hostId = idFromText(body.hostId)
      let hostChoices: { id: number; name: string }[] = []
      try {
        if (hostId === undefined) {
          // Reception types the host's name; one clear match is taken, several are offered to pick from.
          const found = await searchPeopleByName(db, body.host ?? '').catch((error: unknown) => {
            if (error instanceof UserError) throw new VisitorFormError({ host: error.message })
            throw error
          })
          hostChoices = found.matches.map((m) => ({ id: m.personId, name: `${m.firstName} ${m.lastName}` }))
          if (found.matches.length === 1 && !found.more) hostId = found.matches[0]!.personId
          else if (found.matches.length === 0)
            throw new VisitorFormError({ host: 'Nobody here has that name.' })
          else
            throw new VisitorFormError({
              host: found.more
                ? 'Several people match: type more of the name, or pick one.'
                : 'Pick the host.',
            })
        }
        const input = { name: body.name, company: body.company, phone: body.phone, email: body.email, hostId }
        // The form sent twice (a double click, a resend) signs the visitor in once: a phantom
        // visitor on the fire list sends marshals looking for nobody.
        const once = await oncePerForm(
          db,
          request,
          { key: formKey, fields: input, at: () => clock.now() },
          async () => {
            const now = clock.now()
            const { visitor, changed } = await signInVisitor(
              db,
              {
                input,
                source: source(request),
                at: now,
                now,
                // The visitor accepts the notice with reception, out loud or on paper.
                noticeId: null,
              },
              site,
            )
            events.announceVisitor(visitor.id, { changed, in: true }, now)
            return { name: visitor.name }
          },
        )
        if (once.reused) throw new VisitorFormError({ name: FORM_USED })
        request.flash('info', `${once.value.name} is signed in as a visitor.`)
        return reply.redirect('/reception', 303)
      } catch (error) {
        if (!(error instanceof VisitorFormError)) throw error
        reply.code(422)
        return form(reply, { errors: error.errors, values: body, hostChoices })
      }
    },
  )

  // A pre-registered visitor at the desk: one tap signs them in with their host, as their link would.
  app.post<{ Params: { id: number } }>(
    '/reception/visitors/:id/check-in',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const visitor = await expectedVisitor(db, request.params.id)
      const now = clock.now()
      const arrived = await checkInInvitation(db, {
        visitor,
        now,
        timeZone: config.TIME_ZONE,
        source: source(request),
      })
      events.announceVisitor(arrived.id, { changed: true, in: true }, now)
      request.flash('info', `${arrived.name} is signed in as a visitor.`)
      return reply.redirect('/reception/visitors/new#expected', 303)
    },
  )

  app.post<{ Params: { id: number } }>(
    '/reception/visitors/:id/sign-out',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const now = clock.now()
      const { visitor, changed } = await signOutVisitor(db, {
        visitorId: request.params.id,
        at: now,
        now,
        closedBy: 'reception',
        source: source(request),
      })
      events.announceVisitor(visitor.id, { changed, in: false }, now)
      request.flash(
        'info',
        changed ? `${visitor.name} is signed out.` : `${visitor.name} was already signed out.`,
      )
      return reply.redirect('/reception', 303)
    },
  )
}
