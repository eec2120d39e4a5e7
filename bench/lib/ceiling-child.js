'use strict';
/*
 * The HTTP ceiling: a bare Koa server that answers every request with a constant JSON (no body parsing, no
 * database). Driven with the same two-request sequence as the hub, it shows what this machine's HTTP stack and load
 * generator can do at best.
 */
const http = require('node:http');
const Koa = require('koa');
const { serveParent } = require('./proc');

const app = new Koa();
const ORDER = { id: 'ord_ceiling', object: 'order', status: 'created', amount: 19900, currency: 'RUB' };
const PAYMENT = { id: 'pay_ceiling', object: 'payment', status: 'captured', amount: 19900, currency: 'RUB' };
app.use((ctx) => {
  ctx.status = 201;
  ctx.body = ctx.path.endsWith('/payments') ? PAYMENT : ORDER;
});

const server = http.createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  serveParent({
    async stop() {
      server.close();
      server.closeAllConnections();
      setImmediate(() => process.exit(0));
    },
  });
  process.send({ type: 'ready', port: server.address().port, pid: process.pid });
});
