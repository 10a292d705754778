import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type { Device, Person, Visit } from '../db/database.js'

/** A row of the people list: the person, one contact, and when they last signed in. */
export type PersonSummary = Pick<Person, 'id' | 'first_name' | 'last_name' | 'role' | 'deactivated_at'> & {
  contact: string | null
  last_signed_in_at: number | null
}

/**
 * People whose name or contact contains the query (case-insensitive), by name. An empty query
 * lists everyone, most recently active first.
 */
export async function searchPeople(
  db: Db,
  query: string,
  limit: number,
  /** The query read as a canonical contact (E.164, lower-case email), when it is one. */
  contact?: string,
  /** A LIKE pattern of digits (and +) for part of a phone number, e.g. `+447911%`. */
  phonePattern?: string,
): Promise<PersonSummary[]> {
  const like = `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  let q = db
    .selectFrom('person')
    .select(['person.id', 'person.first_name', 'person.last_name', 'person.role', 'person.deactivated_at'])
    .select((eb) => [
      eb
        .selectFrom('contact')
        .select('contact.value')
        .whereRef('contact.person_id', '=', 'person.id')
        .orderBy('contact.id')
        .limit(1)
        .as('contact'),
      eb
        .selectFrom('visit')
        .select((v) => v.fn.max('visit.signed_in_at').as('m'))
        .whereRef('visit.person_id', '=', 'person.id')
        .as('last_signed_in_at'),
    ])
  if (query !== '') {
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`lower(person.first_name || ' ' || person.last_name) like ${like} escape '\\'`,
        sql<boolean>`lower(person.last_name || ' ' || person.first_name) like ${like} escape '\\'`,
        eb.exists(
          eb
            .selectFrom('contact')
            .select('contact.id')
            .whereRef('contact.person_id', '=', 'person.id')
            .where((c) =>
              c.or([
                sql<boolean>`contact.value like ${like} escape '\\'`,
                ...(contact ? [c('contact.value', '=', contact)] : []),
                ...(phonePattern ? [c('contact.value', 'like', phonePattern)] : []),
              ]),
            ),
        ),
      ]),
    )
    q = q.orderBy('person.last_name').orderBy('person.first_name')
  } else {
    q = q.orderBy('last_signed_in_at', (ob) => ob.desc().nullsLast())
  }
  const rows = await q.orderBy('person.id').limit(limit).execute()
  return rows.map((r) => ({
    ...r,
    contact: r.contact ?? null,
    last_signed_in_at: r.last_signed_in_at === null ? null : Number(r.last_signed_in_at),
  }))
}

/** A person's most recent visits, newest first. */
export async function listRecentVisits(db: Db, personId: number, limit: number): Promise<Visit[]> {
  return db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', personId)
    .orderBy('signed_in_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
}

/** Every device of a person, live ones first, most recently used first. */
export async function listAllDevices(db: Db, personId: number, limit: number): Promise<Device[]> {
  return db
    .selectFrom('device')
    .selectAll()
    .where('person_id', '=', personId)
    .orderBy(sql`revoked_at is null`, 'desc')
    .orderBy('last_used_at', 'desc')
    .limit(limit)
    .execute()
}

/** Revokes every live device of a person; returns how many. */
export async function revokeAllDevices(db: Db, personId: number, at: number): Promise<number> {
  const result = await db
    .updateTable('device')
    .set({ revoked_at: at })
    .where('person_id', '=', personId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** One visit of a person, or undefined. */
export async function findVisitOf(db: Db, personId: number, visitId: number): Promise<Visit | undefined> {
  return db
    .selectFrom('visit')
    .selectAll()
    .where('id', '=', visitId)
    .where('person_id', '=', personId)
    .executeTakeFirst()
}

/** Moves everything that belongs to one person onto another; returns counts per kind. */
export async function moveBelongings(
  db: Db,
  fromId: number,
  toId: number,
): Promise<{ contacts: number; visits: number; devices: number; auditEvents: number }> {
  const move = async (table: 'contact' | 'visit' | 'device' | 'audit_event' | 'login_code') => {
    const result = await db
      .updateTable(table)
      .set({ person_id: toId })
      .where('person_id', '=', fromId)
      .executeTakeFirst()
    return Number(result.numUpdatedRows)
  }
  const contacts = await move('contact')
  const visits = await move('visit')
  const devices = await move('device')
  const auditEvents = await move('audit_event')
  await move('login_code')
  await db
    .updateTable('integration_token')
    .set({ created_by: toId })
    .where('created_by', '=', fromId)
    .execute()
  return { contacts, visits, devices, auditEvents }
}
