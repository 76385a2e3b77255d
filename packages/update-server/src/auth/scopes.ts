import { z } from 'zod';

export const scopeSchema = z.enum(['read', 'publish', 'rollout', 'admin']);
export type Scope = z.infer<typeof scopeSchema>;

/** `admin` can do everything; `publish` and `rollout` can also read what they change. */
const IMPLIED: Record<Scope, readonly Scope[]> = {
  read: ['read'],
  publish: ['publish', 'read'],
  rollout: ['rollout', 'read'],
  admin: ['admin', 'rollout', 'publish', 'read'],
};

export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.some((scope) => IMPLIED[scope].includes(needed));
}
