import type { DependencyContainer } from 'tsyringe';
import type { Knex } from 'knex';
import { TOKENS } from '@payhub/core';
import { AccountsService } from './service';
import type { TlsHandoff } from './method';
import type { MtlsListener } from './mtls';
import type { PersonalAccountOptions } from './options';

/** Per-hub state shared by register(), routes(), onReady(), onClose() and commands through the plugin's container. */
export interface PersonalAccountState {
  service: AccountsService | null;
  handoff: TlsHandoff;
  listener: MtlsListener | null;
  purgeTimer: NodeJS.Timeout | null;
}
export const STATE = Symbol.for('payhub.personal-account.state');

export function stateOf(container: DependencyContainer): PersonalAccountState {
  return container.resolve<PersonalAccountState>(STATE);
}

/** The service over this hub's database (created lazily: the database is known only after register()). */
export function serviceOf(container: DependencyContainer, options: PersonalAccountOptions): AccountsService {
  const st = stateOf(container);
  if (!st.service) st.service = new AccountsService(container.resolve<Knex>(TOKENS.Db), container, options);
  return st.service;
}
