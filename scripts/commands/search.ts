import type { Command } from 'commander';
import type { Config } from '../../schemas/config.ts';
import { ConfigError } from '../../schemas/errors.ts';
import { cursorOffset } from '../../search/cursor.ts';
import { InvalidQueryError } from '../../search/errors.ts';
import { highlightSegments } from '../../search/highlight.ts';
import { parseSearchParams, type SearchParams } from '../../search/params.ts';
import type { SearchHit, SearchResult } from '../../search/results.ts';
import { createSearcher } from '../../search/searcher.ts';
import { connectNatsOrExplain, createEsClient } from '../runtime.ts';
import type { CliContext } from './cliContext.ts';
import { cursorKeyOf } from './serve.ts';

/** The deployment's cursor key, as `presslog serve` has it, so the CLI's cursors and the API's are one kind. */
async function cliCursorKey(config: Config): Promise<Uint8Array> {
  if (config.api.cursorSecret !== undefined) return Buffer.from(config.api.cursorSecret);
  const nc = await connectNatsOrExplain(config, 'presslog-search');
  try {
    return await cursorKeyOf(config, nc);
  } finally {
    await nc.close();
  }
}

/** The command's options: the search parameters other than the query, as commander gives them (strings). */
type Options = Omit<SearchParams, 'q' | 'size'> & { size?: string };

/** How matches are marked: bold on a terminal, `**` in a pipe or a file. */
export interface MarkStyle {
  open: string;
  close: string;
}

export const BOLD: MarkStyle = { open: '\u001b[1m', close: '\u001b[22m' };
export const STARS: MarkStyle = { open: '**', close: '**' };

// Document text is data: control characters in it (an ESC in an article) must not
// reach the terminal, where they could move the cursor or retitle the window.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const clean = (text: string) => text.replace(CONTROL, ' ');

function marked(html: string, style: MarkStyle): string {
  return highlightSegments(html)
    .map((s) => (s.match ? `${style.open}${clean(s.text)}${style.close}` : clean(s.text)))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}

function date(iso: string | null): string {
  return iso ? iso.slice(0, 10) : '';
}

function hitText(hit: SearchHit, n: number, style: MarkStyle): string {
  const headline = hit.highlights.headline?.[0]
    ? marked(hit.highlights.headline[0], style)
    : clean(hit.headline);
  const meta = [date(hit.publishedAt), hit.bylines.map((b) => clean(b.name ?? b.id)).join(', '), hit.section]
    .filter(Boolean)
    .join(' · ');
  const lines = [`${String(n).padStart(3)}. ${headline}`];
  if (meta) lines.push(`     ${meta}`);
  const snippet = hit.highlights.body?.[0] ?? hit.highlights.captions?.[0];
  if (snippet) lines.push(`     … ${marked(snippet, style)} …`);
  const caption = hit.highlights.body?.[0] ? hit.highlights.captions?.[0] : undefined;
  if (caption) lines.push(`     image: ${marked(caption, style)}`);
  lines.push(`     ${hit.kind} ${hit.id}${hit.score !== null ? `  score ${hit.score.toFixed(2)}` : ''}`);
  return lines.join('\n');
}

/** The human rendering of a result page (the `--json` output is the result itself). */
export function formatResults(
  result: SearchResult,
  options: { style: MarkStyle; offset?: number; query?: string; showNext?: boolean },
): string {
  const offset = options.offset ?? 0;
  const kind = result.hits[0]?.kind ?? 'article';
  const lines = [
    `${result.total.toLocaleString('en-US')} ${kind}${result.total === 1 ? '' : 's'}${
      options.query ? ` for ${JSON.stringify(options.query)}` : ''
    }${result.hits.length ? `, showing ${offset + 1}-${offset + result.hits.length}` : ''}`,
  ];
  result.hits.forEach((hit, i) => {
    lines.push('', hitText(hit, offset + i + 1, options.style));
  });
  if (result.facets && result.facets.sections.length + result.facets.bylines.length > 0) {
    const top = <T>(list: T[], label: (x: T) => string) => list.slice(0, 5).map(label).join(', ');
    lines.push('');
    if (result.facets.sections.length)
      lines.push(`sections: ${top(result.facets.sections, (s) => `${clean(s.value)} (${s.count})`)}`);
    if (result.facets.bylines.length) {
      lines.push(
        `bylines:  ${top(result.facets.bylines, (b) => `${clean(b.name ?? b.id)} [${b.id}] (${b.count})`)}`,
      );
    }
  }
  if (result.next && options.showNext !== false) lines.push('', `more: add --after ${result.next}`);
  return lines.join('\n');
}

/** A search-parameter error as a usage error (exit 2), named as the command line spells it. */
export function asUsageError(err: unknown): unknown {
  if (!(err instanceof InvalidQueryError)) return err;
  const option =
    err.parameter === 'q' ? '<query>' : `--${err.parameter === 'asOf' ? 'as-of' : err.parameter}`;
  return new ConfigError(option, err.message.slice(err.parameter.length + 2), { cause: err });
}

function toParams(query: string, options: Options): SearchParams {
  return { q: query, ...options };
}

/** `presslog search "<query>" [filters]`: the query layer from the command line. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('search')
    .description('search the archive (empty query: browse newest first)')
    .argument('[query]', 'words, "a phrase", -exclude, a | b, prefix*, word~1', '')
    .option('--byline <id>', 'only articles with this byline id')
    .option('--section <section>', 'only this section')
    .option('--tag <tag>', 'only articles with this tag')
    .option('--from <date>', 'published on or after (YYYY, YYYY-MM, YYYY-MM-DD or ISO date-time)')
    .option('--to <date>', 'published on or before (--to 1865 includes all of 1865)')
    .option('--kind <kind>', 'article or image', 'article')
    .option('--sort <order>', 'relevance or date (default: relevance, date for an empty query)')
    .option('--size <n>', 'results per page, 1-100', '10')
    .option('--after <token>', 'the cursor printed after a page: show the next page')
    .option('--as-of <index>', 'search an archive as it stood: an index built by reindex --as-of')
    .action(async (query: string, options: Options) => {
      const params = toParams(query, options);
      let request: ReturnType<typeof parseSearchParams>;
      try {
        // Validate before connecting: a bad parameter is a usage error even with no server up.
        request = parseSearchParams(params);
      } catch (err) {
        throw asUsageError(err);
      }
      const config = ctx.config();
      const cursorKey = await cliCursorKey(config);
      const es = createEsClient(config);
      const searcher = createSearcher({ es, names: config.names, logger: ctx.log(), cursorKey });
      try {
        const result = await searcher.search(request, { signal: ctx.signal }).catch((err) => {
          throw asUsageError(err);
        });
        const style = process.stdout.isTTY ? BOLD : STARS;
        ctx.output(result, () =>
          formatResults(result, { style, query: request.q, offset: cursorOffset(request.after) }),
        );
      } finally {
        await searcher.close();
        await es.close();
      }
    });
}
