import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatDateTime } from '../lib/site-time.js'
import { readableDetail } from './audit-detail.js'

const london = (ms: number) => formatDateTime(ms, 'Europe/London')

test('an audit detail reads as labelled lines, instants in the site time, not as JSON', () => {
  const detail = JSON.stringify({
    visitId: 12,
    leftAt: Date.parse('2026-11-23T17:30:00Z'),
    note: 'forgot',
    by: 3,
    confirmed: true,
    roles: ['staff', 'admin'],
  })
  assert.deepEqual(readableDetail(detail, london), [
    ['Visit id', '12'],
    ['Left at', london(Date.parse('2026-11-23T17:30:00Z'))],
    ['Note', 'forgot'],
    ['Done by', 'person #3'],
    ['Confirmed', 'yes'],
    ['Roles', 'staff, admin'],
  ])
  assert.doesNotMatch(JSON.stringify(readableDetail(detail, london)), /[{}]/)
})

test('no detail, or detail that is not a JSON object, still shows something sensible', () => {
  assert.deepEqual(readableDetail(null, london), [])
  assert.deepEqual(readableDetail('not json', london), [['Detail', 'not json']])
  assert.deepEqual(readableDetail('"text"', london), [['Detail', 'text']])
  assert.deepEqual(readableDetail(JSON.stringify({ from: { kind: 'email' } }), london), [
    ['From', 'kind: email'],
  ])
})
