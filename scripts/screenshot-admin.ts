import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../server/app.js'
import { connect } from '../server/db/connect.js'
import { migrateToLatest } from '../server/db/migrate.js'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { projectRoot } from '../server/paths.js'
import { loginAs, TestClock, testConfig } from '../server/testing/build-test-app.js'
import { launchChromium } from '../server/testing/chromium.js'
import { makePerson, makeVisit } from '../server/testing/factories.js'

/**
 * Renders the admin pages over a made-up office (no real data) and saves screenshots in
 * docs/screenshots/ for the README: `npx tsx scripts/screenshot-admin.ts` (needs Debian's chromium).
 */
const names = [
  'Ann Archer',
  'Ben Baker',
  'Cara Cole',
  'Dev Desai',
  'Eli Evans',
  'Fay Ford',
  'Gus Grant',
  'Hana Hill',
  'Ivo Ito',
  'Jo Jones',
  'Kim Kaur',
  'Leo Lee',
  'Mia Moss',
  'Nia Nunn',
  'Oz Oakes',
  'Pia Patel',
  'Raj Rao',
  'Sue Shaw',
  'Tom Tran',
  'Uma Ueda',
  'Vic Vale',
  'Wes Wu',
  'Xia Xu',
  'Yan Yates',
  'Zoe Zhu',
]
const clock = new TestClock(Date.parse('2026-11-23T12:00:00Z'))
const config = testConfig({ ADMIN_CONTACTS: 'admin@example.org' })
const { db } = connect(':memory:')
await migrateToLatest(db)
// A deterministic pseudo-random office: weekdays busier mid-week, a few forgotten sign-outs.
let seed = 7
const random = () => {
  seed = (seed * 16807) % 2147483647
  return seed / 2147483647
}
for (const [i, name] of names.entries()) {
  const [first, last] = name.split(' ') as [string, string]
  const id = await makePerson(db, { firstName: first, lastName: last, email: `p${i}@example.org` })
  for (let d = 29; d >= 0; d--) {
    const day = new Date(clock.now() - d * 86_400_000)
    const weekday = (day.getUTCDay() + 6) % 7
    const chance = weekday >= 5 ? 0.05 : [0.6, 0.8, 0.85, 0.75, 0.45][weekday]!
    if (random() > chance) continue
    const date = day.toISOString().slice(0, 10)
    const inMin = 7 * 60 + Math.floor(random() * 150)
    const stay = 240 + Math.floor(random() * 300)
    const at = (m: number) =>
      `${date}T${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00Z`
    if (d === 0) {
      if (inMin < 12 * 60) await makeVisit(db, id, { in: at(inMin) })
    } else if (random() < 0.06) {
      await makeVisit(db, id, { in: at(inMin), out: `${date}T23:59:59.999Z`, closedBy: 'auto' })
    } else {
      await makeVisit(db, id, { in: at(inMin), out: at(Math.min(inMin + stay, 23 * 60)) })
    }
  }
}
const app = await buildApp(config, {
  db,
  clock,
  logger: false,
  channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
})
const outbox: string[] = []
const admin = await loginAs(
  {
    app,
    clock,
    config,
    outbox,
    lastCode: (contact) => /is (\d{6})/.exec(outbox.filter((l) => l.includes(contact)).at(-1) ?? '')![1]!,
  },
  'admin@example.org',
  { firstName: 'Ada', lastName: 'Admin' },
)
const address = await app.listen({ port: 0, host: '127.0.0.1' })
const out = join(projectRoot, 'docs', 'screenshots')
mkdirSync(out, { recursive: true })
const browser = await launchChromium()
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  await context.addCookies([{ name: 'br_device', value: admin.cookies.get('br_device')!, url: address }])
  const page = await context.newPage()
  await page.goto(`${address}/admin/stats?from=2026-10-25&to=2026-11-23`)
  await page.screenshot({ path: join(out, 'statistics.png'), fullPage: true })
  await page.goto(`${address}/admin/people/1`)
  await page.screenshot({ path: join(out, 'admin-person.png'), fullPage: true })
  console.log(`Saved screenshots in ${out}`)
} finally {
  await browser.close()
  await app.close()
  await db.destroy()
}
