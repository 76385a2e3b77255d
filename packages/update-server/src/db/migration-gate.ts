import type { Migration } from './migrations.js';

/**
 * The rollout gate (issue 11): a rollout carries its gate policy (null: no gate, steps advance on
 * their timer or by hand), and every decision the gate takes is stored with its inputs, once per
 * rollout and closed window, append-only like the audit log.
 */
export const gateMigration: Migration = {
  id: 6,
  name: 'rollout gate policies and decisions',
  sql: `
    alter table rollouts add column gate jsonb;
    create table rollout_decisions (
      id bigserial primary key,
      app text not null,
      rollout_id text not null references rollouts(id),
      window_end timestamptz not null,
      step_index integer not null,
      outcome text not null,
      rule text not null,
      reason text not null,
      applied boolean not null,
      inputs jsonb not null,
      decided_at timestamptz not null,
      unique (rollout_id, window_end)
    );
    create index rollout_decisions_rollout on rollout_decisions (rollout_id, window_end desc)
  `,
};
