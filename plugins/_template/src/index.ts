import { z } from 'zod';
import { definePlugin, TOKENS, ValidationError, type PaymentsService } from '@payhub/core';

/**
 * A minimal plugin: options with a schema, its own table and migration history, a merchant-authenticated route
 * that reads through the engine, and lifecycle hooks. Copy the folder to plugins/<name>, rename, fill in.
 */
const options = z.strictObject({
  greeting: z.string().min(1).default('Hello'),
});
type Options = z.infer<typeof options>;

export default definePlugin<Options>({
  name: 'template',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'other',
  description: 'Template plugin: a note per order',
  options,
  migrations: [
    {
      name: '20261127000000_template_notes',
      async up(knex) {
        await knex.schema.createTable('template_notes', (t) => {
          t.increments('id');
          t.string('order_id', 40).notNullable().index();
          t.string('text', 500).notNullable();
        });
      },
      async down(knex) {
        await knex.schema.dropTableIfExists('template_notes');
      },
    },
  ],
  routes(router, ctx) {
    const db = ctx.container.resolve(TOKENS.Db);
    const payments: PaymentsService = ctx.container.resolve(TOKENS.Payments);
    router.post('/v1/template/orders/:id/notes', ctx.requireMerchant, async (c) => {
      const text = (c.request as { body?: { text?: unknown } }).body?.text;
      if (typeof text !== 'string' || text.length < 1 || text.length > 500) {
        throw new ValidationError([{ field: 'text', message: 'must be 1 to 500 characters' }]);
      }
      const order = await payments.getOrder(c.params.id!);
      if (!order || order.merchantId !== c.state.merchant.id) {
        c.status = 404;
        c.type = 'application/problem+json';
        c.body = { type: 'about:blank', title: 'Not Found', status: 404, code: 'order_not_found', detail: 'Order not found' };
        return;
      }
      await db('template_notes').insert({ order_id: order.id, text });
      c.status = 201;
      c.body = { order_id: order.id, text: `${ctx.options.greeting}: ${text}` };
    });
  },
  async onReady(ctx) {
    ctx.logger.debug('template plugin ready');
  },
});
