import assert from 'node:assert/strict'
import { test } from 'node:test'
import { replayTap } from '../register/offline-replay.js'
import { signIn } from '../register/register.service.js'
import { buildTestApp, type TestApp } from '../testing/build-test-app.js'
import { makePerson } from '../testing/factories.js'
import { deskReceptionist } from '../testing/reception.js'
import { auditedAs, marshalEnds, marshalStarts, moMarshal, rollCallCounts } from '../testing/roll-call.js'
import { signInVisitor, signOutVisitor, type VisitorSource } from '../visitors/visitor.service.js'
import { answerBroadcast, createBroadcast } from './broadcast.service.js'
import { fireListSettings } from './presence.service.js'
import { replyToken } from './reply-links.js'
import {
  checkInAtMusterPoint,
  drillReport,
  type MarkSubject,
  markOnRollCall,
  recordSelfAnswer,
} from './roll-call.service.js'

const context = { ip: '203.0.113.9', userAgent: 'test' }
const site = { timeZone: 'Europe/London', defaultRegion: 'GB' }
// Europe/London is UTC in November: the times below are the site's own.
const at = (time: string) => Date.parse(`2026-11-24T${time}:00Z`)
const kiosk: VisitorSource = { via: 'kiosk', kiosk: null, personId: null, context }
const linksKey = Buffer.alloc(32, 7)

/** People of a test by first name: staff who may sign in, and who never do. */
async function staff(ctx: TestApp, names: string[]): Promise<Record<string, number>> {
  const ids: Record<string, number> = {}
  for (const name of names) {
    ids[name] = await makePerson(ctx.app.ctx.db, {
      firstName: name,
      lastName: 'Test',
      email: `${name.toLowerCase()}@example.org`,
    })
  }
  return ids
}

/** A marshal messages everyone registered now, asking for "I'm safe" / "I need help" answers. */
function messageEveryone(ctx: TestApp, marshal: number, message: string) {
  return createBroadcast(
    { db: ctx.app.ctx.db, fireList: fireListSettings(ctx.config) },
    {
      personId: marshal,
      at: ctx.clock.now(),
      context,
      template: 'drill',
      audience: 'everyone',
      message,
      askSafety: true,
    },
  )
}

/** A visitor signed in at a kiosk now; their id. */
async function visitorArrives(ctx: TestApp, name: string, hostId: number): Promise<number> {
  const now = ctx.clock.now()
  const { visitor } = await signInVisitor(
    ctx.app.ctx.db,
    { input: { name, hostId }, source: kiosk, at: now, now, noticeId: null },
    site,
  )
  return visitor.id
}

/** A marshal's mark at `time`: online, or made then and sent from a phone at `sentAt` (with a key). */
function mark(
  ctx: TestApp,
  rollCallId: number,
  marshal: number,
  subject: MarkSubject,
  status: 'safe' | 'missing',
  time: string,
  sentAt?: string,
) {
  ctx.clock.set(`2026-11-24T${sentAt ?? time}:00Z`)
  return markOnRollCall(ctx.app.ctx.db, {
    personId: marshal,
    at: at(time),
    context,
    rollCallId,
    subject,
    status,
    ...(sentAt ? { key: `${marshal}-${time}`, receivedAt: at(sentAt) } : {}),
  })
}

/** Someone scans the assembly-point poster at `time`. */
async function checksIn(ctx: TestApp, personId: number, time: string) {
  ctx.clock.set(`2026-11-24T${time}:00Z`)
  await checkInAtMusterPoint(ctx.app.ctx.db, { personId, at: at(time), context, point: 'Car park B' })
}

test('the drill report says everyone was accounted for only when the last person ever sought was found: off the list (asked for help, or left before the alarm and marked missing), staff or visitor, and not when someone never sought checks in', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T09:00:00Z')
  const mo = await moMarshal(ctx)
  const people = await staff(ctx, ['Ann', 'Bob', 'Cat'])
  await signIn(db, { personId: people.Ann!, now: ctx.clock.now(), context }, site)
  const val = await visitorArrives(ctx, 'Val Visitor', people.Ann!)
  const wes = await visitorArrives(ctx, 'Wes Visitor', people.Ann!)

  // 09:30 the alarm: Ann, Val and Wes on the list. Bob and Cat never signed in.
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  ctx.clock.set('2026-11-24T09:31:00Z')
  const broadcast = await messageEveryone(ctx, mo.id, 'Fire drill.')
  // 09:33 Bob, off the list, answers "I need help": he is sought from now on.
  ctx.clock.set('2026-11-24T09:33:00Z')
  await recordSelfAnswer(db, { personId: people.Bob!, at: at('09:33'), context, answer: 'help', broadcast })
  await mark(ctx, rollCall.id, mo.id, { person: people.Ann! }, 'safe', '09:35')
  await mark(ctx, rollCall.id, mo.id, { visitor: val }, 'safe', '09:36')
  // 09:40 the kiosk sends Wes's sign-out, made at 09:20: he left before the alarm, off the list...
  ctx.clock.set('2026-11-24T09:40:00Z')
  await signOutVisitor(db, {
    visitorId: wes,
    at: at('09:20'),
    now: at('09:40'),
    closedBy: 'visitor',
    source: kiosk,
  })
  // ...but his colleague says he went back in for his coat: sought from 09:41, found at 09:50.
  await mark(ctx, rollCall.id, mo.id, { visitor: wes }, 'missing', '09:41')
  await checksIn(ctx, people.Bob!, '09:45')
  await mark(ctx, rollCall.id, mo.id, { visitor: wes }, 'safe', '09:50')
  // 09:55 Cat, who never signed in and was never sought, scans the poster: nobody was waiting for her.
  await checksIn(ctx, people.Cat!, '09:55')
  ctx.clock.set('2026-11-24T10:00:00Z')
  await marshalEnds(ctx, mo.id, rollCall.id)

  const report = await drillReport(db, rollCall.id, site.timeZone)
  assert.equal(report.allAccountedAt, at('09:50'), 'when Wes, the last one sought, was found')
  assert.deepEqual([...report.neverAccounted, ...report.visitorsNeverAccounted], [])

  // The page, the printed list, the CSV and the report kept at the end agree: nobody is left to find.
  const desk = await deskReceptionist(ctx)
  const url = `/reception/roll-calls/${rollCall.id}`
  const page = await desk.browser.get(`${url}/report`)
  assert.match(page.body, /Everyone accounted for<\/dt><dd>after <strong>20 min 0 s<\/strong> \(09:50\)/)
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 0)
  assert.match((await desk.browser.get(`${url}/print`)).body, /· 0 not accounted for/)
  const [ended] = await auditedAs(ctx, 'roll-call.ended')
  assert.equal(ended.counts.unaccounted, 0)
  const csv = (await desk.browser.get(`${url}/report.csv`)).body
  assert.match(csv, /^Bob,Test,,safe,self,2026-11-24T09:45:00\+00:00,/m, csv)
  assert.match(csv, /^Wes Visitor,.*,safe,Mo Marshal,2026-11-24T09:50:00\+00:00,/m, csv)
})

test('the everyone-accounted-for time follows marks by when they were made: an answer given before the alarm, a mark sent late from a phone, a second "safe" for someone already safe', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T09:00:00Z')
  const mo = await moMarshal(ctx)
  const rita = await deskReceptionist(ctx)
  const people = await staff(ctx, ['Ann', 'Dan', 'Lee'])
  for (const name of ['Ann', 'Lee'])
    await signIn(db, { personId: people[name]!, now: at('09:00'), context }, site)

  // 09:20 a message to everyone registered; 09:25 Dan, who never signed in, answers "I need help".
  ctx.clock.set('2026-11-24T09:20:00Z')
  await messageEveryone(ctx, mo.id, 'Fire drill soon.')
  const dan = await db
    .selectFrom('broadcast_recipient')
    .select('id')
    .where('person_id', '=', people.Dan!)
    .executeTakeFirstOrThrow()
  await answerBroadcast(db, {
    linksKey,
    token: replyToken(linksKey, dan.id, 'help'),
    at: at('09:25'),
    context,
  })

  // 09:30 the alarm: Dan's answer is carried onto it. Lee's phone sends his 09:20 sign-out at 09:31.
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  await replayTap(
    db,
    { personId: people.Lee!, action: 'sign-out', at: at('09:20'), now: at('09:31'), context },
    site,
  )
  assert.equal((await rollCallCounts(ctx, rollCall.id)).help, 1, 'Dan still needs help')
  await mark(ctx, rollCall.id, mo.id, { person: people.Ann! }, 'safe', '09:35')
  // Mo marks Lee missing at 09:36 on a phone with no signal; Rita finds him safe at 09:39, online.
  await mark(ctx, rollCall.id, rita.id, { person: people.Lee! }, 'safe', '09:39')
  await checksIn(ctx, people.Dan!, '09:42')
  // Ann scans the poster too, long after Mo marked her safe: she was accounted for at 09:35.
  await checksIn(ctx, people.Ann!, '09:46')
  const late = await mark(ctx, rollCall.id, mo.id, { person: people.Lee! }, 'missing', '09:36', '09:48')
  assert.equal(late.applied, false, 'overtaken by the later mark')

  const report = await drillReport(db, rollCall.id, site.timeZone)
  assert.equal(report.allAccountedAt, at('09:42'), 'when Dan, sought since before the alarm, checked in')
})

test('a marshal can mark someone who was not on the list when it started and asked for help: found, they are accounted for', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T09:00:00Z')
  const mo = await moMarshal(ctx)
  const people = await staff(ctx, ['Ann', 'Bob'])
  await signIn(db, { personId: people.Ann!, now: ctx.clock.now(), context }, site)
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  const broadcast = await messageEveryone(ctx, mo.id, 'Fire drill.')
  await recordSelfAnswer(db, { personId: people.Bob!, at: at('09:31'), context, answer: 'help', broadcast })
  await mark(ctx, rollCall.id, mo.id, { person: people.Ann! }, 'safe', '09:32')
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 1, accounted: 1, unaccounted: 1, missing: 0, help: 1, unmarked: 0 },
    'Bob is off the list and needs help',
  )
  const url = `/reception/roll-calls/${rollCall.id}`
  const desk = await deskReceptionist(ctx)
  const page = await desk.browser.get(url)
  const extra = page.body.slice(page.body.indexOf('<h2 id="extra">'))
  assert.match(extra, /Bob Test[\s\S]*?data-mark-form/, 'Bob has the marshal’s buttons')

  // 09:40 a marshal finds Bob at the side entrance, unhurt.
  ctx.clock.set('2026-11-24T09:40:00Z')
  const marked = await desk.browser.post(`${url}/marks`, { person: String(people.Bob!), status: 'safe' })
  assert.equal(marked.statusCode, 303)
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 1, accounted: 1, unaccounted: 0, missing: 0, help: 0, unmarked: 0 },
    'nobody left to find',
  )
  assert.equal((await drillReport(db, rollCall.id, site.timeZone)).allAccountedAt, at('09:40'))
  // No "Undo" for him: with no mark he would be nobody to look for, his call for help dropped.
  // "Missing" stays at hand in case he was mistaken for someone else.
  const found = (await desk.browser.get(url)).body
  const bob = found.slice(
    found.indexOf('<h2 id="extra">'),
    found.indexOf('</li>', found.indexOf('<h2 id="extra">')),
  )
  assert.doesNotMatch(bob, /value="unaccounted"/)
  assert.match(bob, /value="missing" aria-label="Bob Test is missing">/, 'Missing, not hidden')
  // Someone with no line on the roll call (no sign-in, no answer) is still refused.
  await assert.rejects(
    mark(ctx, rollCall.id, mo.id, { person: mo.id }, 'safe', '09:41'),
    /not on this roll call/,
  )
})

test('nobody off the list (never signed in, or left before the alarm) can be put back to "not accounted for": that would drop their call for help or the search for them; no Undo on their lines', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T09:00:00Z')
  const mo = await moMarshal(ctx)
  const people = await staff(ctx, ['Ann', 'Bob', 'Carl'])
  await signIn(db, { personId: people.Ann!, now: ctx.clock.now(), context }, site)
  await signIn(db, { personId: people.Carl!, now: ctx.clock.now(), context }, site)
  const wes = await visitorArrives(ctx, 'Wes Visitor', people.Ann!)
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  // 09:31 the sign-outs Carl and Wes made at 09:20 reach the register: they left before the alarm.
  ctx.clock.set('2026-11-24T09:31:00Z')
  await replayTap(
    db,
    { personId: people.Carl!, action: 'sign-out', at: at('09:20'), now: at('09:31'), context },
    site,
  )
  await signOutVisitor(db, {
    visitorId: wes,
    at: at('09:20'),
    now: at('09:31'),
    closedBy: 'visitor',
    source: kiosk,
  })
  // Carl and Bob (never signed in) answer "I need help"; Wes's colleague says he went back in.
  const broadcast = await messageEveryone(ctx, mo.id, 'Fire drill.')
  for (const who of [people.Carl!, people.Bob!])
    await recordSelfAnswer(db, { personId: who, at: at('09:32'), context, answer: 'help', broadcast })
  await mark(ctx, rollCall.id, mo.id, { visitor: wes }, 'missing', '09:33')
  // A marshal marks Carl safe by mistake (it was Ann).
  await mark(ctx, rollCall.id, mo.id, { person: people.Carl! }, 'safe', '09:34')
  const before = await rollCallCounts(ctx, rollCall.id)

  // No Undo on their lines...
  const desk = await deskReceptionist(ctx)
  const url = `/reception/roll-calls/${rollCall.id}`
  const page = (await desk.browser.get(url)).body
  const lineOf = (id: string) =>
    page.slice(page.indexOf(`id="${id}"`), page.indexOf('</li>', page.indexOf(`id="${id}"`)))
  for (const id of [`p-${people.Carl}`, `p-${people.Bob}`, `v-${wes}`]) {
    assert.ok(page.includes(`id="${id}"`), id)
    assert.doesNotMatch(lineOf(id), /value="unaccounted"/, `no Undo for ${id}`)
  }
  assert.match(lineOf(`p-${people.Ann}`), /value="unaccounted"/, 'Ann, on the list, keeps hers')
  // ...and the register refuses it, however it is sent: nothing changes.
  ctx.clock.set('2026-11-24T09:35:00Z')
  for (const subject of [{ person: people.Carl! }, { person: people.Bob! }, { visitor: wes }]) {
    await assert.rejects(
      markOnRollCall(db, {
        personId: mo.id,
        at: at('09:35'),
        context,
        rollCallId: rollCall.id,
        subject,
        status: 'unaccounted',
      }),
      (error: Error & { statusCode?: number }) =>
        error.statusCode === 422 && /mark them Safe once found, or Missing/.test(error.message),
    )
  }
  const posted = await desk.browser.post(`${url}/marks`, {
    person: String(people.Bob!),
    status: 'unaccounted',
  })
  assert.equal(posted.statusCode, 303)
  assert.match(
    (await desk.browser.follow(posted)).body,
    /cannot be put back to not accounted for/,
    'the marshal is told',
  )
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    before,
    'Bob still needs help, Wes is still sought',
  )
  assert.equal(before.help, 1)
  assert.equal(before.missing, 1)
})
