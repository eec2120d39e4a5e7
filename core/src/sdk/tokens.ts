import type { InjectionToken } from 'tsyringe';
import type { Logger } from 'pino';
import type { BankAdapter, PaymentMethod, RiskCheck } from './payments';
import type { BankContractStore, CheckoutExtension, Clock, DashboardPanel, Db, Keyring, LedgerService, MerchantsService, PaymentsService, PluginInfo, Runtime } from './services';
import type { HubConfig } from '../config/schema';

/*
 * DI tokens. Global symbols (Symbol.for) so that a plugin built against another copy of
 * @payhub/core still meets the same token.
 */
export const TOKENS = {
  /** Multi-token: every payment method (resolveAll). */
  PaymentMethod: Symbol.for('payhub.PaymentMethod') as InjectionToken<PaymentMethod>,
  /** Multi-token: every acquiring bank adapter (resolveAll). */
  BankAdapter: Symbol.for('payhub.BankAdapter') as InjectionToken<BankAdapter>,
  /** Multi-token: risk checks run before an attempt is sent. */
  RiskCheck: Symbol.for('payhub.RiskCheck') as InjectionToken<RiskCheck>,
  /** Multi-token: read-only panels shown by the dashboard plugin (DashboardPanel), if it is loaded. */
  DashboardPanel: Symbol.for('payhub.DashboardPanel') as InjectionToken<DashboardPanel>,
  /** Multi-token: form sections a plugin adds to the hosted payment page (CheckoutExtension), if a page plugin is loaded. */
  CheckoutExtension: Symbol.for('payhub.CheckoutExtension') as InjectionToken<CheckoutExtension>,
  Payments: Symbol.for('payhub.Payments') as InjectionToken<PaymentsService>,
  Merchants: Symbol.for('payhub.Merchants') as InjectionToken<MerchantsService>,
  Ledger: Symbol.for('payhub.Ledger') as InjectionToken<LedgerService>,
  /** Optional: bank contract credentials per merchant (registered by an onboarding plugin). */
  BankContracts: Symbol.for('payhub.BankContracts') as InjectionToken<BankContractStore>,
  /** The loaded plugins with their status (a function, evaluated on each call). */
  Plugins: Symbol.for('payhub.Plugins') as InjectionToken<() => PluginInfo[]>,
  Db: Symbol.for('payhub.Db') as InjectionToken<Db>,
  Logger: Symbol.for('payhub.Logger') as InjectionToken<Logger>,
  Config: Symbol.for('payhub.Config') as InjectionToken<HubConfig>,
  Clock: Symbol.for('payhub.Clock') as InjectionToken<Clock>,
  Keyring: Symbol.for('payhub.Keyring') as InjectionToken<Keyring>,
  Runtime: Symbol.for('payhub.Runtime') as InjectionToken<Runtime>,
} as const;
