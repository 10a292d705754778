import type { Page } from 'playwright-core'
import type { TestApp } from './build-test-app.js'
import type { Showcase, Viewer } from './showcase.js'

/** One page as someone sees it, for the screenshot and look-and-feel test (server/views/pages.browser.test.ts). */
export interface PageToSee {
  /** File-name friendly; screenshots are named after it. */
  name: string
  as: Viewer
  path: string | ((s: Showcase) => string)
  /** What to do on the page before looking at it (fill a form and send it, to see its errors). */
  act?: (page: Page, ctx: TestApp) => Promise<void>
  /** The HTTP status the page answers with when it is not 200. */
  status?: number
}

/** Shows the install card as when the browser offers to install the app (headless never does). */
async function offerInstall(page: Page): Promise<void> {
  await page.evaluate(
    "for (const id of ['install', 'install-button']) document.getElementById(id).hidden = false",
  )
}

/**
 * Every page of the app. Add a line here for each new page (a new area: a new block): the test
 * screenshots it at 390×844, 320×640 and 1366×768 in light and dark mode and fails on horizontal
 * overflow, unreadable text, unnamed controls and axe-core violations.
 */
export const pagesToSee: PageToSee[] = [
  // Signing in.
  { name: 'login', as: 'anon', path: '/login' },
  {
    name: 'login-error',
    as: 'anon',
    path: '/login',
    act: async (page) => {
      await page.fill('#contact', 'not a contact')
      // The form re-renders at the same URL: wait for the answer's error, then for that page to
      // load (waitForLoadState alone answered for the page already loaded, so axe ran mid-navigation).
      await page.click('button[type=submit]')
      await page.getByText('Enter an email address, or a mobile number').waitFor()
      await page.waitForLoadState()
    },
  },
  {
    name: 'login-code',
    as: 'anon',
    path: '/login',
    act: async (page) => {
      await page.fill('#contact', 'carol.new@example.org')
      await Promise.all([page.waitForURL(/\/login\/verify$/), page.click('button[type=submit]')])
    },
  },
  {
    name: 'sign-up-name',
    as: 'anon',
    path: '/login',
    act: async (page, ctx) => {
      await page.fill('#contact', 'dan.new@example.org')
      await Promise.all([page.waitForURL(/\/login\/verify$/), page.click('button[type=submit]')])
      await page.fill('#code', ctx.lastCode('dan.new@example.org'))
      await Promise.all([page.waitForSelector('#firstName'), page.click('button[type=submit]')])
    },
  },
  { name: 'not-found', as: 'anon', path: '/no-such-page', status: 404 },
  // Organisation sign-in refused (here: a callback this browser never started).
  {
    name: 'sso-refused',
    as: 'anon',
    path: '/login/sso/microsoft/callback?code=x&state=y',
    status: 400,
  },
  { name: 'staff-invitation', as: 'anon', path: (s) => s.staffInvitation },
  { name: 'visitor-invitation', as: 'anon', path: (s) => s.visitorInvitation },
  { name: 'privacy', as: 'anon', path: '/privacy' },
  { name: 'api-reference', as: 'anon', path: '/docs/api' },
  { name: 'broadcast-reply', as: 'anon', path: (s) => s.replyLink },
  { name: 'reminder-answer', as: 'anon', path: (s) => s.reminderLink },

  // Staff.
  { name: 'home-signed-in', as: 'staff-in', path: '/', act: offerInstall },
  { name: 'home-signed-out', as: 'staff-out', path: '/', act: offerInstall },
  { name: 'visits', as: 'staff-in', path: '/history' },
  { name: 'profile', as: 'staff-in', path: '/profile' },
  { name: 'profile-pin', as: 'staff-in', path: '/profile/pin' },
  { name: 'visitors-expected', as: 'staff-in', path: '/visitors' },
  { name: 'muster-check-in', as: 'staff-in', path: '/muster?point=Car%20park%20B' },
  { name: 'forbidden', as: 'staff-in', path: '/reception', status: 403 },

  // Reception.
  { name: 'reception-board', as: 'reception', path: '/reception' },
  { name: 'reception-display', as: 'reception', path: '/reception/display' },
  { name: 'roll-calls', as: 'reception', path: '/reception/roll-calls' },
  { name: 'roll-call', as: 'reception', path: (s) => s.rollCall },
  { name: 'roll-call-print', as: 'reception', path: (s) => `${s.rollCall}/print` },
  { name: 'drill-report', as: 'reception', path: (s) => `${s.rollCall}/report` },
  { name: 'muster-poster', as: 'reception', path: '/reception/muster?point=Car%20park%20B' },
  { name: 'broadcasts', as: 'reception', path: '/reception/broadcasts' },
  { name: 'broadcast-new', as: 'reception', path: '/reception/broadcasts/new?template=evacuation' },
  { name: 'broadcast', as: 'reception', path: (s) => s.broadcast },
  { name: 'visitor-new', as: 'reception', path: '/reception/visitors/new' },

  // Admin.
  { name: 'admin-people', as: 'admin', path: '/admin/people' },
  { name: 'admin-person', as: 'admin', path: (s) => `/admin/people/${s.ids.staffIn}` },
  // Someone signed in cannot be erased (the fire list needs their name): the dry run of one who left.
  { name: 'admin-erase', as: 'admin', path: (s) => `/admin/people/${s.ids.staffOut}/erase` },
  { name: 'admin-audit', as: 'admin', path: '/admin/audit' },
  { name: 'admin-stats', as: 'admin', path: '/admin/stats' },
  { name: 'admin-tokens', as: 'admin', path: '/admin/tokens' },
  { name: 'admin-messages', as: 'admin', path: '/admin/messages' },
  { name: 'admin-kiosks', as: 'admin', path: '/admin/kiosks' },
  { name: 'admin-webhooks', as: 'admin', path: '/admin/webhooks' },
  { name: 'admin-invitations', as: 'admin', path: '/admin/invitations' },

  // Kiosk: a tablet not yet paired, then the paired tablet's start screen and visitor form.
  { name: 'kiosk-pair', as: 'anon', path: '/kiosk' },
  { name: 'kiosk-home', as: 'kiosk', path: '/kiosk' },
  {
    name: 'kiosk-visitor-form',
    as: 'kiosk',
    path: '/kiosk',
    act: async (page) => {
      await page.click('[data-go="visitor-in"]')
      await page.locator('#visitor-form').waitFor()
    },
  },
]
