import { type Kysely, sql } from 'kysely'

// Frozen in time: kiosks, visitors, site notices, staff PINs and door codes as of 2026-12-01.
// Instants are epoch ms (UTC), declared bigint so PostgreSQL holds them.

export async function up(db: Kysely<any>): Promise<void> {
  // A shared tablet at an entrance. It is nobody: its token only does kiosk things.
  await db.schema
    .createTable('kiosk')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('pairing_code_hash', 'text', (c) => c.unique())
    .addColumn('pairing_expires_at', 'bigint')
    .addColumn('paired_at', 'bigint')
    .addColumn('last_seen_at', 'bigint')
    .addColumn('created_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('removed_at', 'bigint')
    .execute()

  // The admin's site notice (safety rules, NDA); every change is a new version, the latest applies.
  await db.schema
    .createTable('site_notice')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('created_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  // A visitor's visit: signed in at a kiosk or by reception, or pre-registered by a host (then
  // signed_in_at stays null until they arrive). Personal data has its own retention.
  await db.schema
    .createTable('visitor')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('company', 'text', (c) => c.notNull())
    .addColumn('host_person_id', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('phone', 'text')
    .addColumn('email', 'text')
    .addColumn('notice_id', 'integer', (c) => c.references('site_notice.id').onDelete('set null'))
    .addColumn('notice_accepted_at', 'bigint')
    .addColumn('expected_day', 'text')
    .addColumn('invited_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('kiosk_id', 'integer', (c) => c.references('kiosk.id').onDelete('set null'))
    .addColumn('signed_in_via', 'text', (c) =>
      c.check(sql`signed_in_via is null or signed_in_via in ('kiosk', 'reception', 'invite')`),
    )
    .addColumn('signed_in_at', 'bigint')
    .addColumn('signed_out_at', 'bigint')
    .addColumn('closed_by', 'text', (c) =>
      c.check(sql`closed_by is null or closed_by in ('visitor', 'reception', 'auto')`),
    )
    .addColumn('client_key', 'text')
    .addColumn('host_notified_at', 'bigint')
    .addColumn('reminded_at', 'bigint')
    .addColumn('photo', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint(
      'visitor_out_after_in',
      sql`signed_out_at is null or (signed_in_at is not null and signed_out_at >= signed_in_at)`,
    )
    .execute()
  await db.schema
    .createIndex('visitor_open')
    .on('visitor')
    .columns(['signed_out_at', 'signed_in_at'])
    .execute()
  await db.schema.createIndex('visitor_created_at').on('visitor').column('created_at').execute()
  await db.schema.createIndex('visitor_host').on('visitor').column('host_person_id').execute()
  // A kiosk's offline queue replays each sign-in with its own key: the second copy is refused here.
  await db.schema
    .createIndex('visitor_kiosk_client_key')
    .on('visitor')
    .columns(['kiosk_id', 'client_key'])
    .unique()
    .execute()

  // A staff member's personal kiosk PIN, stored as a slow salted hash; 5 wrong tries lock it.
  await db.schema
    .createTable('staff_pin')
    .addColumn('person_id', 'integer', (c) => c.primaryKey().references('person.id').onDelete('cascade'))
    .addColumn('pin_hash', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()

  // A door code used by a person: the same code cannot be used twice by the same person.
  await db.schema
    .createTable('door_code_use')
    .addColumn('kiosk_id', 'integer', (c) => c.notNull().references('kiosk.id').onDelete('cascade'))
    .addColumn('slot', 'bigint', (c) => c.notNull())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('used_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('door_code_use_pk', ['kiosk_id', 'slot', 'person_id'])
    .execute()

  // Where a staff visit began or ended at a kiosk: by the door code or by a PIN.
  await db.schema
    .createTable('visit_at_door')
    .addColumn('visit_id', 'integer', (c) => c.notNull().references('visit.id').onDelete('cascade'))
    .addColumn('kiosk_id', 'integer', (c) => c.references('kiosk.id').onDelete('set null'))
    .addColumn('action', 'text', (c) => c.notNull().check(sql`action in ('signed-in', 'signed-out')`))
    .addColumn('method', 'text', (c) => c.notNull().check(sql`method in ('door-code', 'pin')`))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('visit_at_door_pk', ['visit_id', 'action'])
    .execute()

  // Visitors inside when a roll call started, copied like roll_call_person, with the latest mark.
  await db.schema
    .createTable('roll_call_visitor')
    .addColumn('roll_call_id', 'integer', (c) => c.notNull().references('roll_call.id').onDelete('cascade'))
    .addColumn('visitor_id', 'integer', (c) => c.notNull().references('visitor.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('company', 'text', (c) => c.notNull())
    .addColumn('host_name', 'text', (c) => c.notNull())
    .addColumn('phone', 'text')
    .addColumn('signed_in_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().defaultTo('unaccounted').check(sql`status in ('safe', 'missing', 'help', 'unaccounted')`),
    )
    .addColumn('marked_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('marked_at', 'bigint')
    .addPrimaryKeyConstraint('roll_call_visitor_pk', ['roll_call_id', 'visitor_id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('roll_call_visitor').execute()
  await db.schema.dropTable('visit_at_door').execute()
  await db.schema.dropTable('door_code_use').execute()
  await db.schema.dropTable('staff_pin').execute()
  await db.schema.dropTable('visitor').execute()
  await db.schema.dropTable('site_notice').execute()
  await db.schema.dropTable('kiosk').execute()
}
