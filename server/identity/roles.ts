import type { Role } from '../db/database.js'

const rank: Record<Role, number> = { staff: 0, reception: 1, admin: 2 }

/** True when a person's role includes another (admin includes reception includes staff). */
export function hasRole(role: Role, needed: Role): boolean {
  return rank[role] >= rank[needed]
}

/** Every role, lowest first. */
export const roles: readonly Role[] = ['staff', 'reception', 'admin']
