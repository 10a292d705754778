import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RollCallLine } from './roll-call.repository.js'
import { countLines, drillReportOf, type RollCallView } from './roll-call.service.js'

const line = (personId: number, onSnapshot: boolean, status: RollCallLine['status']): RollCallLine => ({
  personId,
  firstName: `P${personId}`,
  lastName: 'Test',
  signedInAt: onSnapshot ? 0 : null,
  onSnapshot,
  confirmed: onSnapshot,
  reason: null,
  reasonAt: null,
  lastActivityAt: null,
  stillHereAt: null,
  signedOutAt: null,
  leftBeforeAlarm: false,
  status,
  via: status === 'unaccounted' ? null : 'self',
  markedAt: status === 'unaccounted' ? null : 1,
  markedById: null,
  markedByName: null,
})

test('someone not on the list who asks for help, or whom a marshal marks missing, counts as needing help (or missing) and not accounted for', () => {
  const counts = countLines([
    line(1, true, 'safe'),
    line(2, true, 'unaccounted'),
    line(3, true, 'help'),
    // Not on the list when it started (no sign-in): one checked in safe at the assembly point, one
    // tapped "I need help" in the broadcast, one a marshal was told is missing.
    line(4, false, 'safe'),
    line(5, false, 'help'),
    line(6, false, 'missing'),
  ])
  assert.deepEqual(counts, {
    // "On the list" is the list when the alarm rang; safe and marks count on it.
    total: 3,
    accounted: 1,
    unmarked: 1,
    // Whoever still has to be found or helped, on the list or not.
    unaccounted: 2 + 2,
    help: 2,
    missing: 1,
  })
})

test('someone whose sign-out from before the alarm reached the server late is off the list, unless they need help or are missing; a sign-out during the alarm changes no number', () => {
  const leftBefore = (l: RollCallLine): RollCallLine => ({ ...l, signedOutAt: 1, leftBeforeAlarm: true })
  const signedOutDuring = (l: RollCallLine): RollCallLine => ({ ...l, signedOutAt: 2 })
  const counts = countLines([
    line(1, true, 'safe'),
    line(2, true, 'unaccounted'),
    signedOutDuring(line(3, true, 'unaccounted')),
    leftBefore(line(4, true, 'unaccounted')),
    leftBefore(line(5, true, 'safe')),
    leftBefore(line(6, true, 'help')),
  ])
  assert.deepEqual(counts, {
    total: 3,
    accounted: 1,
    unmarked: 2,
    // Lines 2 and 3 are still to be found; line 6 asked for help wherever they are.
    unaccounted: 2 + 1,
    help: 1,
    missing: 0,
  })
})

test('the drill report never says everyone was accounted for while someone off the list still needs help or is missing, and lists them as never accounted for', () => {
  const view = (lines: RollCallLine[]): RollCallView => ({
    rollCall: { id: 1, kind: 'drill', started_at: 0, started_by: null, ended_at: 100, ended_by: null },
    startedByName: null,
    endedByName: null,
    lines: lines.map((l) => ({ ...l, tellApart: null, phone: null })),
    visitors: [],
    counts: countLines(lines),
  })
  const everyoneSafe = drillReportOf(
    view([line(1, true, 'safe'), line(2, false, 'safe')]),
    'Europe/London',
    [],
  )
  assert.equal(everyoneSafe.allAccountedAt, 1, 'the last mark')
  assert.deepEqual(everyoneSafe.neverAccounted, [])
  // Not on the list when it started: one tapped "I need help", one a marshal was told is missing,
  // one whose sign-out from before the alarm arrived late and who then asked for help.
  const leftBefore = { ...line(5, true, 'help'), signedOutAt: -1, leftBeforeAlarm: true }
  for (const toFind of [line(3, false, 'help'), line(4, false, 'missing'), leftBefore]) {
    const report = drillReportOf(view([line(1, true, 'safe'), toFind]), 'Europe/London', [])
    assert.equal(report.allAccountedAt, null, `person ${toFind.personId} (${toFind.status}) still to find`)
    assert.deepEqual(
      report.neverAccounted.map((l) => l.personId),
      [toFind.personId],
    )
  }
})
