import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const WEB_FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
} as const;

// The page renders highlight HTML; the policy makes sure nothing but our own script and
// styles could ever run or load, even if a highlight were not what we expect.
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The search page (`/`, its script and styles, read once) and `/openapi.json`. */
export function pageRoutes(api: FastifyInstance): void {
  api.get('/openapi.json', { schema: { hide: true } }, async () => api.swagger());
  for (const [path, { file, type }] of Object.entries(WEB_FILES)) {
    const body = readFileSync(new URL(`../web/${file}`, import.meta.url));
    api.get(path, { schema: { hide: true } }, async (_request, reply) => {
      reply.type(type).header('cache-control', 'no-cache');
      if (path === '/')
        reply.header('content-security-policy', PAGE_POLICY).header('referrer-policy', 'no-referrer');
      return reply.send(body);
    });
  }
}
