import type { FastifyInstance } from 'fastify'
import {
  describeVisitorReason,
  type FireListVisitor,
  fireListSettings,
  phoneForCall,
  presenceBoard,
} from '../../reception/presence.service.js'
import { activeRollCall } from '../../reception/roll-call.service.js'
import { expectedToday } from '../../visitors/invitation.service.js'
import { recentRefusedSavedSignIns } from '../../visitors/refused-sign-in.service.js'
import { auditContactsShown, reasonAsOf } from './fire-list-view.js'
import { livePage } from './shared.js'

/** /reception: the live presence board (the fire list), and its large display for a screen at the desk. */
export default async function boardRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  const tz = config.TIME_ZONE
  const fireList = fireListSettings(config)

  app.get('/reception', async (request, reply) => {
    const now = clock.now()
    const [board, rollCall, expected, refusedSignIns] = await Promise.all([
      presenceBoard(db, now, fireList),
      activeRollCall(db),
      expectedToday(app.ctx),
      recentRefusedSavedSignIns(db, now),
    ])
    const visitorPhones = board.list.visitors.filter((v) => v.phone !== null).length
    await auditContactsShown(db, clock, request, 'board', board.phones.size + visitorPhones)
    return reply.page('reception/board', {
      ...livePage,
      board,
      rollCall,
      expected: expected.length,
      refusedSignIns,
      now,
      reasonOf: reasonAsOf(now, tz),
      phoneOf: (id: number) => phoneForCall(board.phones.get(id)),
      phoneForCall,
      visitorReason: (v: FireListVisitor) => describeVisitorReason(v, now, tz),
    })
  })

  app.get('/reception/display', async (_request, reply) => {
    const now = clock.now()
    const board = await presenceBoard(db, now, fireList)
    return reply.page('reception/display', {
      ...livePage,
      board,
      now,
      reasonOf: reasonAsOf(now, tz),
      visitorReason: (v: FireListVisitor) => describeVisitorReason(v, now, tz),
    })
  })
}
