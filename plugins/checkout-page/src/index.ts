/**
 * @payhub/plugin-checkout-page: the hosted payment page (/pay/:order_id), the static-page snippet (POST /pay,
 * /payhub.js, `payhub snippet`), per-merchant themes and the demo shop. See README.md.
 */
import { definePlugin, isKnownCurrency, TOKENS, type LifecycleContext, type PluginCommand } from '@payhub/core';
import { loadAssets } from './assets';
import { mountDemo, mountPages } from './pages';
import { migrations } from './store';
import { openapi } from './openapi';
import { snippetHtml, type SnippetFields } from './snippet';

export { canonicalString, signSnippet, verifySnippet, snippetHtml, SNIPPET_FIELDS } from './snippet';
export type { SnippetFields } from './snippet';
export { parseTheme, themeCss, cssProblems, type Theme } from './theme';
export { formatAmount, pickLang, LANGS, TEXTS } from './i18n';
export { parseExpiry, DEMO_PRODUCTS } from './pages';
export { migrations } from './store';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

/** `payhub snippet --merchant <id> --amount <minor units> --order <order_number> [--currency RUB] [--description …] [--return-url …]` */
export const snippetCommand: PluginCommand<unknown> = {
  name: 'snippet',
  description: 'Print the signed <script> snippet of a "Pay" button for a static page (--merchant, --amount, --order, [--currency, --description, --return-url])',
  needsDb: true,
  async run(args: string[], ctx: LifecycleContext<unknown>) {
    const out = (s: string) => process.stdout.write(s + '\n');
    const err = (s: string) => process.stderr.write(`snippet: ${s}\n`);
    const merchantId = flag(args, 'merchant');
    const amount = flag(args, 'amount');
    const order = flag(args, 'order');
    const currency = flag(args, 'currency') ?? 'RUB';
    const description = flag(args, 'description') ?? '';
    const returnUrl = flag(args, 'return-url') ?? '';
    if (!merchantId || !amount || !order) {
      err('usage: payhub snippet --merchant <id> --amount <minor units> --order <order_number> [--currency RUB] [--description …] [--return-url …]');
      return 2;
    }
    if (!/^[1-9]\d{0,12}$/.test(amount)) {
      err('--amount must be a positive whole number of minor units (e.g. 19900 for 199.00)');
      return 2;
    }
    if (!isKnownCurrency(currency)) {
      err(`--currency ${currency} is not a known ISO 4217 code`);
      return 2;
    }
    if (!/^[A-Za-z0-9._:\-/#]{1,64}$/.test(order)) {
      err('--order must be 1 to 64 characters of letters, digits and ._:-/#');
      return 2;
    }
    if (returnUrl) {
      let ok = false;
      try {
        ok = /^https?:$/.test(new URL(returnUrl).protocol) && !returnUrl.includes('|');
      } catch {
        ok = false;
      }
      if (!ok) {
        err('--return-url must be an absolute http(s) URL without "|"');
        return 2;
      }
    }
    const merchants = ctx.container.resolve(TOKENS.Merchants);
    const m = await merchants.get(merchantId);
    if (!m) {
      err(`no merchant ${merchantId}`);
      return 1;
    }
    const formKey = await merchants.formKey(merchantId);
    const base = ctx.container.resolve(TOKENS.Runtime).baseUrl();
    const fields: SnippetFields = { merchant_id: merchantId, order_number: order, amount, currency, description, return_url: returnUrl };
    const integrity = loadAssets().get('payhub.js')?.integrity;
    out(snippetHtml(base, fields, formKey, integrity));
    return 0;
  },
};

export default definePlugin({
  name: 'checkout-page',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'page',
  description: 'Hosted payment page, static-page snippet, per-merchant themes and the demo shop',
  migrations,
  openapi,
  routes(router, rctx) {
    mountPages(router, rctx);
    if (rctx.config.demo.enabled) mountDemo(router, rctx);
  },
  commands: [snippetCommand],
});
