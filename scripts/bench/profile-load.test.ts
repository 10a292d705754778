import assert from 'node:assert/strict'
import { test } from 'node:test'
import { requestShares } from './profile-load.js'

/** A call frame of the synthetic profile: a function in a file. */
const frame = (functionName: string, url: string) => ({ functionName, url, scriptId: '0', lineNumber: 0, columnNumber: 0 })

/**
 * A web process's profile in miniature: start-up loads the route's module (its top level runs
 * code in the route's file) and compiles its schemas inside Fastify's ready, then requests come.
 */
function webProcessProfile() {
  const nodes = [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 6, 9] },
    { id: 2, callFrame: frame('(idle)', ''), children: [] },
    // Start-up: the route module's top level, importing the query builder.
    { id: 3, callFrame: frame('', 'file:///app/dist/server/routes/api/index.js'), children: [4] },
    { id: 4, callFrame: frame('compile', 'file:///app/node_modules/kysely/dist/esm/index.js'), children: [] },
    // Start-up: Fastify's ready compiles the route's body schema (ajv counts as HTTP).
    { id: 6, callFrame: frame('compileSchemasForValidation', 'file:///app/node_modules/fastify/lib/validation.js'), children: [7] },
    { id: 7, callFrame: frame('compile', 'file:///app/node_modules/ajv/dist/core.js'), children: [] },
    // A request: Fastify's route handler calls the route, which runs SQL.
    { id: 9, callFrame: frame('routeHandler', 'file:///app/node_modules/fastify/lib/route.js'), children: [10] },
    { id: 10, callFrame: frame('tap', 'file:///app/dist/server/routes/api/index.js'), children: [11] },
    { id: 11, callFrame: frame('run', 'file:///app/node_modules/better-sqlite3/lib/index.js'), children: [] },
  ]
  //            start-up: module, kysely, ajv ×3    idle   requests: route, SQL ×2, idle between
  const samples = [3, 4, 7, 7, 7, 2, 10, 11, 11, 2, 10, 11]
  return { nodes, samples, timeDeltas: samples.map(() => 100), startTime: 0, endTime: 1200 }
}

test('a profile’s shares count the load’s requests, not the start-up before them', () => {
  const shares = requestShares(webProcessProfile())
  const byPart = Object.fromEntries(shares.map((s) => [s.part, s.micros]))
  // Requests: two samples in the route's own code, three in SQL; start-up's module load, query
  // builder and schema compiling are not part of any request.
  assert.deepEqual(byPart, {
    'SQL (Kysely, driver, unit of work)': 300,
    'the route’s own code (services, routes)': 200,
  })
  assert.equal(shares[0]!.share, 0.6)
})

test('a floor’s own code is its SQL, but for the functions named for the parts they stand for', () => {
  const floor = 'file:///app/scripts/bench/home-floor.mjs'
  const nodes = [
    { id: 1, callFrame: frame('(root)', ''), children: [2] },
    { id: 2, callFrame: frame('routeHandler', 'file:///app/node_modules/fastify/lib/route.js'), children: [3] },
    // The floor's route: its statements run natively from here.
    { id: 3, callFrame: frame('', floor), children: [4, 5, 7, 8] },
    { id: 4, callFrame: frame('tokenHash', floor), children: [] },
    { id: 5, callFrame: frame('sealSession', floor), children: [6] },
    { id: 6, callFrame: frame('randombytes_buf', 'file:///app/node_modules/sodium-native/index.js'), children: [] },
    // The CSRF token, made by @fastify/csrf as the app's csrf-protection makes it.
    { id: 7, callFrame: frame('create', 'file:///app/node_modules/@fastify/csrf/index.js'), children: [] },
    { id: 8, callFrame: frame('page', floor), children: [9] },
    { id: 9, callFrame: frame('escapeHtml', floor), children: [10] },
    { id: 10, callFrame: frame('escapeChar', floor), children: [] },
  ]
  //               SQL ×3     auth  session ×2  csrf  rendering ×3
  const samples = [3, 3, 3, 4, 5, 6, 7, 8, 9, 10]
  const profile = { nodes, samples, timeDeltas: samples.map(() => 100), startTime: 0, endTime: 1000 }
  const byPart = Object.fromEntries(requestShares(profile, '/scripts/bench/home-floor.mjs').map((s) => [s.part, s.micros]))
  assert.deepEqual(byPart, {
    'SQL (Kysely, driver, unit of work)': 300,
    'auth (token hash, device)': 100,
    'session, cookies': 300,
    'page rendering (templates)': 300,
  })
})
