/**
 * The markup kept for display: sanitized when a record is read, whatever its source
 * (presslog NDJSON gives `bodyHtml` directly; the format readers map theirs to it).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sanitizeBodyHtml } from '../../ingest/bodyHtml.ts';
import { parseRecord } from '../../ingest/records.ts';
import { MAX_BODY_CHARS } from '../../schemas/articleEvents.ts';

const article = (bodyHtml: string) => ({
  kind: 'article',
  id: 'a-1',
  headline: 'Hostile markup',
  body: 'Text',
  publishedAt: '2024-05-01',
  bodyHtml,
});

describe('bodyHtml sanitizing', () => {
  test('scripts, event handlers, javascript: URLs, frames and styles go; the text stays', () => {
    const hostile = [
      '<p onclick="steal()">Council <b>approves</b> budget<script>alert(document.cookie)</script></p>',
      '<img src="x" onerror="alert(1)">',
      '<p>See <a href="javascript:alert(1)">the minutes</a> and <a href="https://example.org/m" onmouseover="x()" target="_blank">the vote</a>.</p>',
      '<iframe src="https://evil.example/"></iframe><style>body{display:none}</style>',
      '<p style="position:fixed" class="x">Mail <a href="mailto:desk@example.org">the desk</a>.</p>',
      '<svg><script>alert(2)</script></svg><a href="data:text/html;base64,PHNjcmlwdD4=">data</a>',
    ].join('');
    const parsed = parseRecord(article(hostile));
    assert.ok(parsed.ok);
    assert.equal(
      (parsed.record as { bodyHtml?: string }).bodyHtml,
      '<p>Council <b>approves</b> budget</p>' +
        '<p>See the minutes and <a href="https://example.org/m">the vote</a>.</p>' +
        '<p>Mail <a href="mailto:desk@example.org">the desk</a>.</p>' +
        'data',
    );
  });

  test("WordPress's Gutenberg block comments are dropped, the blocks' markup kept", () => {
    const gutenberg =
      '<!-- wp:heading --><h2 class="wp-block-heading">Results</h2><!-- /wp:heading -->\n\n' +
      '<!-- wp:paragraph --><p>Turnout was <em>high</em>.</p><!-- /wp:paragraph -->\n\n' +
      '<!-- wp:quote --><blockquote class="wp-block-quote"><p>A good day.</p></blockquote><!-- /wp:quote -->';
    assert.equal(
      sanitizeBodyHtml(gutenberg),
      '<h2>Results</h2>\n\n<p>Turnout was <em>high</em>.</p>\n\n<blockquote><p>A good day.</p></blockquote>',
    );
  });

  test('sanitizing is idempotent, so re-ingesting an export appends nothing new', () => {
    const once = sanitizeBodyHtml('<p>Fish &amp; chips &lt;3 <a href="https://e.org/?a=1&b=2">here</a></p>')!;
    assert.equal(once, '<p>Fish &amp; chips &lt;3 <a href="https://e.org/?a=1&amp;b=2">here</a></p>');
    assert.equal(sanitizeBodyHtml(once), once);
  });

  test('markup with nothing left is no markup; markup over the cap after sanitizing is a reject naming bodyHtml', () => {
    const empty = parseRecord(article('<script>x</script><!-- c -->'));
    assert.ok(empty.ok);
    assert.equal((empty.record as { bodyHtml?: string }).bodyHtml, undefined);
    const big = parseRecord(article(`<p>${'x'.repeat(MAX_BODY_CHARS)}</p>`));
    assert.deepEqual(!big.ok && big.problems, [
      {
        field: 'bodyHtml',
        message: `is ${MAX_BODY_CHARS + 7} characters after sanitizing, over the ${MAX_BODY_CHARS}-character cap`,
      },
    ]);
  });
});
