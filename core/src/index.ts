/**
 * @payhub/core: the only module a plugin imports.
 * Plugin contract, DI tokens, extension-point interfaces, money, errors and helpers.
 */
import 'reflect-metadata';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const CORE_VERSION: string = require('../../package.json').version;

export { definePlugin } from './host/contract';
export type {
  PayhubPlugin, PluginKind, RegisterContext, RouteContext, LifecycleContext, PluginMigration, PluginCommand,
} from './host/contract';
export { TOKENS } from './sdk/tokens';
export * from './sdk/money';
export * from './sdk/payments';
export type {
  Clock, Keyring, PaymentsService, CreateOrderInput, Db, Runtime, MerchantsService, MerchantRecord, NewMerchantInput, CreatedMerchantKeys, LedgerService, LedgerLeg, BankContractStore, PluginInfo,
  DashboardPanel, PanelQuery, PanelData,
  CheckoutExtension, CheckoutExtensionField, CheckoutExtensionQuery, CheckoutExtensionResult,
} from './sdk/services';
export { safeEqual, newId, maskPan } from './sdk/util';
export {
  PayhubError, ValidationError, StartupError, ERR, badRequest, unauthorized, forbidden, notFound, conflict, invalid,
} from './errors';
export type { FieldError } from './errors';
export type { HubConfig } from './config/schema';
export { isUniqueViolation, tx, forUpdate, kindOf } from './db/knex';
export * from './sdk/bank-kit';
export { createTestHub, createTestDatabase, testDbKind, ManualClock } from './testing';
export type { TestHub, TestHubOptions, TestApiResponse } from './testing';
export * as emulatorKit from './sdk/emulator-kit';
export { parseForm, formOf } from './sdk/form';
