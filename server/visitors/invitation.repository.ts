import type { Db } from '../db/connect.js'
import type { Visitor, VisitorInvitation } from '../db/database.js'

/** A pre-registered visitor with their invitation and their host's name. */
export type InvitedVisitor = Visitor & {
  invitation: Pick<VisitorInvitation, 'expected_time' | 'sent_at' | 'cancelled_at' | 'created_at'>
  hostFirstName: string | null
  hostLastName: string | null
}

function invitedVisitors(db: Db) {
  return db
    .selectFrom('visitor_invitation')
    .innerJoin('visitor', 'visitor.id', 'visitor_invitation.visitor_id')
    .leftJoin('person', 'person.id', 'visitor.host_person_id')
    .selectAll('visitor')
    .select([
      'visitor_invitation.expected_time as expectedTime',
      'visitor_invitation.sent_at as sentAt',
      'visitor_invitation.cancelled_at as cancelledAt',
      'visitor_invitation.created_at as invitedAt',
      'person.first_name as hostFirstName',
      'person.last_name as hostLastName',
    ])
}

type Row = Visitor & {
  expectedTime: string | null
  sentAt: number | null
  cancelledAt: number | null
  invitedAt: number
  hostFirstName: string | null
  hostLastName: string | null
}

function shape(row: Row): InvitedVisitor {
  const { expectedTime, sentAt, cancelledAt, invitedAt, ...visitor } = row
  return {
    ...visitor,
    invitation: {
      expected_time: expectedTime,
      sent_at: sentAt === null ? null : Number(sentAt),
      cancelled_at: cancelledAt === null ? null : Number(cancelledAt),
      created_at: Number(invitedAt),
    },
  }
}

/** Stores a pre-registered visitor's invitation (the visitor row exists already). */
export async function insertInvitation(
  db: Db,
  row: { visitorId: number; tokenHash: string; codeHash: string; expectedTime: string | null; at: number },
): Promise<void> {
  await db
    .insertInto('visitor_invitation')
    .values({
      visitor_id: row.visitorId,
      token_hash: row.tokenHash,
      code_hash: row.codeHash,
      expected_time: row.expectedTime,
      sent_at: null,
      cancelled_at: null,
      created_at: row.at,
    })
    .execute()
}

/** Gives an invitation a new link and code (the old ones stop working) and its expected time. */
export async function replaceInvitationSecrets(
  db: Db,
  visitorId: number,
  secrets: { tokenHash: string; codeHash: string },
): Promise<void> {
  await db
    .updateTable('visitor_invitation')
    .set({ token_hash: secrets.tokenHash, code_hash: secrets.codeHash, sent_at: null })
    .where('visitor_id', '=', visitorId)
    .execute()
}

/** Sets the time the host expects the visitor (HH:mm), or clears it. */
export async function setInvitationTime(db: Db, visitorId: number, time: string | null): Promise<void> {
  await db
    .updateTable('visitor_invitation')
    .set({ expected_time: time })
    .where('visitor_id', '=', visitorId)
    .execute()
}

/** Marks an invitation as delivered to the provider. */
export async function markInvitationSent(db: Db, visitorId: number, at: number): Promise<void> {
  await db
    .updateTable('visitor_invitation')
    .set({ sent_at: at })
    .where('visitor_id', '=', visitorId)
    .execute()
}

/** Cancels an invitation the visitor has not used; false if it was used or cancelled already. */
export async function cancelInvitation(db: Db, visitorId: number, at: number): Promise<boolean> {
  const result = await db
    .updateTable('visitor_invitation')
    .set({ cancelled_at: at })
    .where('visitor_id', '=', visitorId)
    .where('cancelled_at', 'is', null)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('visitor')
          .select('visitor.id')
          .whereRef('visitor.id', '=', 'visitor_invitation.visitor_id')
          .where('visitor.signed_in_at', 'is', null),
      ),
    )
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

/** Updates the visitor's details on a pre-registration not yet used. */
export async function updateInvitedVisitor(
  db: Db,
  visitorId: number,
  details: { name: string; company: string; phone: string | null; email: string | null; expectedDay: string },
): Promise<void> {
  await db
    .updateTable('visitor')
    .set({
      name: details.name,
      company: details.company,
      phone: details.phone,
      email: details.email,
      expected_day: details.expectedDay,
    })
    .where('id', '=', visitorId)
    .where('signed_in_at', 'is', null)
    .execute()
}

/** A pre-registered visitor, with the invitation: by id, or by the hash of its link token or kiosk code. */
export async function findInvitedVisitor(
  db: Db,
  key: { id: number } | { tokenHash: string } | { codeHash: string },
): Promise<InvitedVisitor | undefined> {
  const query = invitedVisitors(db)
  const row = await ('id' in key
    ? query.where('visitor.id', '=', key.id)
    : 'tokenHash' in key
      ? query.where('visitor_invitation.token_hash', '=', key.tokenHash)
      : query.where('visitor_invitation.code_hash', '=', key.codeHash)
  ).executeTakeFirst()
  return row && shape(row as Row)
}

/** A host's pre-registrations from a day on (not yet past), soonest first. */
export async function listInvitationsOfHost(
  db: Db,
  hostPersonId: number,
  fromDay: string,
): Promise<InvitedVisitor[]> {
  const rows = await invitedVisitors(db)
    .where('visitor.host_person_id', '=', hostPersonId)
    .where('visitor.expected_day', '>=', fromDay)
    .orderBy('visitor.expected_day')
    .orderBy('visitor_invitation.expected_time')
    .orderBy('visitor.id')
    .execute()
  return rows.map((r) => shape(r as Row))
}

/** Everyone expected on a day and not yet arrived (cancelled invitations left out), by time then name. */
export async function listExpectedOn(db: Db, day: string): Promise<InvitedVisitor[]> {
  const rows = await invitedVisitors(db)
    .where('visitor.expected_day', '=', day)
    .where('visitor.signed_in_at', 'is', null)
    .where('visitor_invitation.cancelled_at', 'is', null)
    .orderBy('visitor_invitation.expected_time')
    .orderBy('visitor.name')
    .orderBy('visitor.id')
    .execute()
  return rows.map((r) => shape(r as Row))
}

/** Invitation texts the message log holds since an instant (they share the site's SMS budget). */
export async function countInvitationTextsSince(db: Db, since: number): Promise<number> {
  const row = await db
    .selectFrom('message')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('purpose', '=', 'visitor-invitation')
    .where('contact_kind', '=', 'phone')
    .where('created_at', '>', since)
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}
