import { TOKENS } from '@payhub/core';
import type { LifecycleContext, PluginCommand } from '@payhub/core';
import { CardVault } from './vault';

const USAGE = [
  'usage: payhub keys rotate [--data-key]',
  '  rotate             re-wrap every card data key under the current master key version (keys.version)',
  '  rotate --data-key  also create a new data key and re-encrypt every stored card under it',
].join('\n');

/** Builds the vault from a command's context (database and keyring of the hub). */
export function vaultOf(ctx: LifecycleContext<unknown>): CardVault {
  return new CardVault(ctx.db, ctx.container.resolve(TOKENS.Keyring), ctx.container.isRegistered(TOKENS.Clock, true)
    ? ctx.container.resolve(TOKENS.Clock)
    : { now: () => new Date() });
}

/**
 * `payhub keys rotate`: after a master-key change (new keys.masterKey + keys.version, the old key moved to
 * keys.previous), re-wraps every card data key under the new master key and reports the counts.
 */
export const keysCommand: PluginCommand<unknown> = {
  name: 'keys',
  description: 'Card vault keys: `keys rotate` re-wraps data keys under the current master key (`--data-key`: new data key)',
  needsDb: true,
  run: (args, ctx) => runKeys(args, ctx, (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`${l}\n`)),
};

/** The `keys` command with its output lines handed to `out`/`err`. Returns the exit code. */
export async function runKeys(args: string[], ctx: LifecycleContext<unknown>, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const [sub, ...flags] = args;
  const unknown = flags.filter((f) => f !== '--data-key');
  if (sub !== 'rotate' || unknown.length > 0) {
    err(USAGE);
    return 2;
  }
  const vault = vaultOf(ctx);
  try {
    const r = await vault.rewrapDataKeys();
    const line: Record<string, unknown> = { master_key_version: r.version, data_keys: r.dataKeys, rewrapped: r.rewrapped, already_current: r.alreadyCurrent };
    if (flags.includes('--data-key')) {
      const d = await vault.rotateDataKey();
      Object.assign(line, { new_data_key: d.newDataKey, cards_reencrypted: d.cardsReencrypted, data_keys_retired: d.retiredDataKeys });
    }
    ctx.logger.info(line, 'card: keys rotated');
    out(Object.entries(line).map(([k, v]) => `${k}=${v}`).join(' '));
    return 0;
  } catch (e) {
    err(`keys rotate failed: ${(e as Error).message}`);
    return 1;
  }
}
