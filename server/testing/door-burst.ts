import { loginAs, type TestApp, type TestBrowser } from './build-test-app.js'

/** Every outbox row, handed on or not. */
export const outboxRows = (ctx: TestApp) => ctx.app.ctx.db.selectFrom('outbox').selectAll().execute()

/**
 * Up to ten people (Ann Burst, Ben Burst, …) signed in to the app on their phones, each with the
 * home page open, ready to tap at the same moment (08:55 at the door).
 */
export async function burst(ctx: TestApp, size: number): Promise<{ names: string[]; people: TestBrowser[] }> {
  const names = ['Ann', 'Ben', 'Cat', 'Dan', 'Eve', 'Fay', 'Gus', 'Hal', 'Ivy', 'Jon'].slice(0, size)
  const people: TestBrowser[] = []
  for (const name of names) {
    const browser = await loginAs(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Burst',
    })
    await browser.get('/')
    people.push(browser)
  }
  return { names, people }
}
