import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createTestHub, type TestHub } from '@payhub/core';

export const ROOT = path.resolve(__dirname, '../../../..');
export const PLUGINS = [
  { resolve: path.resolve(__dirname, '../../..', 'sandbox-bank') },
  { resolve: path.resolve(__dirname, '../../..', 'card') },
  { resolve: path.resolve(__dirname, '../../..', 'checkout-page') },
];
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
  '--disable-component-update', '--disable-sync',
];

export function startHub(config?: Record<string, unknown>): Promise<TestHub> {
  return createTestHub({ plugins: PLUGINS, config });
}

export const YEAR = String(new Date().getUTCFullYear() + 3).slice(-2);

/** CSRF token of an order, as the page renders it. */
export function csrfOf(html: string): string {
  const m = /name="csrf" value="([0-9a-f]{64})"/.exec(html);
  if (!m) throw new Error('no csrf field in the page');
  return m[1]!;
}

/** A merchant's shop on another origin: a return page and static pages. */
export class Shop {
  server: http.Server;
  url = '';
  pages = new Map<string, string>();
  returns: string[] = [];
  constructor() {
    this.server = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/return') {
        this.returns.push(u.search);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html lang="en"><title>Shop</title><h1 id="shop-return">Thank you</h1><p id="q">${u.search.replace(/[<>&"]/g, '')}</p></html>`);
        return;
      }
      const page = this.pages.get(u.pathname);
      if (page) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
        return;
      }
      res.writeHead(404);
      res.end('not found');
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
