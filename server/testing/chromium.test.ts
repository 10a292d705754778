import assert from 'node:assert/strict'
import { test } from 'node:test'
import { launchChromium } from './chromium.js'

test('a browser test that cannot find Chromium fails, saying what to install', async () => {
  await assert.rejects(
    launchChromium([], '/nonexistent/chromium'),
    /needs Chromium at \/nonexistent\/chromium/,
  )
})
