/**
 * The text of HTML bodies (WordPress `content:encoded`, ninjs `body_html`): plain markup
 * is read without htmlparser2's tokenizer, and must give exactly htmlparser2's events.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Parser } from 'htmlparser2';
import { htmlText, readPlainHtml } from '../../ingest/formats/htmlText.ts';

type Event = string;

function parserEvents(html: string): Event[] {
  const events: Event[] = [];
  const parser = new Parser(
    {
      onopentag: (name) => events.push(`<${name}`),
      ontext: (text) => events.push(`'${text}`),
      onclosetag: (name) => events.push(`>${name}`),
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  return events;
}

function plainEvents(html: string): Event[] | undefined {
  const events: Event[] = [];
  const plain = readPlainHtml(html, {
    onopentag: (name) => events.push(`<${name}`),
    ontext: (text) => events.push(`'${text}`),
    onclosetag: (name) => events.push(`>${name}`),
  });
  return plain ? events : undefined;
}

/** htmlparser2 also closes what is still open at the end: the plain reader leaves that out (no text follows). */
function assertSameEvents(html: string): boolean {
  const plain = plainEvents(html);
  if (!plain) return false;
  const parsed = parserEvents(html);
  assert.deepEqual(plain, parsed.slice(0, plain.length), JSON.stringify(html));
  assert.ok(
    parsed.slice(plain.length).every((e) => e.startsWith('>')),
    JSON.stringify(html),
  );
  return true;
}

const PIECES = [
  '<p>',
  '</p>',
  '<P class="x">',
  '<br>',
  '<br/>',
  '</br>',
  '<hr />',
  `<img src="a.jpg" alt='b > c'>`,
  '<li>',
  '</li>',
  '<ul>',
  '</ul>',
  '<ol>',
  '<div>',
  '</div>',
  '<span>',
  '</span>',
  '<em>',
  '</em>',
  '<a href="x">',
  '</a>',
  '<h2>',
  '</h2>',
  '<table>',
  '<tr>',
  '<td>',
  '</td>',
  '<th>',
  '</tr>',
  '<tbody>',
  '<thead>',
  '</table>',
  '<blockquote>',
  '<figure>',
  '<figcaption>',
  '</figure>',
  '<!-- wp:paragraph -->',
  '<!---->',
  '<!-->',
  '<!--->',
  '-->',
  '<!-- a -- b -->',
  'text',
  ' ',
  '\n',
  '\n\n',
  '\n \n',
  '\r\n\r\n',
  'a b',
  '&amp;',
  '&#8217;',
  '&#x2019;',
  '&nbsp;',
  '&notit;',
  '&NewLine;',
  '&amp',
  '&',
  '<',
  '>',
  '<script>x</script>',
  '<iframe src="y"></iframe>',
  '<svg><path/></svg>',
  '<title>t</title>',
  '<a b=c>',
  '<a b="c"d="e">',
  '</>',
  '<![CDATA[x]]>',
  '<!DOCTYPE html>',
  '<dd>',
  '<section>',
  '</P >',
  '<p\n>',
  '<a\nhref = "z" >',
];

describe('htmlText', () => {
  test('plain markup gives htmlparser2 events: implied ends, stray end tags, comments, entities', () => {
    const cases = [
      '<p>One</p>\n<p>Two &amp; three</p>',
      '<p>a<div>b</div>c',
      '<span><p>a</span>b',
      '<ul><li>a<li>b</ul>after',
      '</p>x</br>y',
      '<table><tr><td>a<td>b<tr><td>c</table>',
      '<!-->a<!--->b<!---->c<!-- x -->d',
      'a\n&NewLine;b\n\n&#10;\nc',
      '&notit; &amp &#0; &#xD800; &#128;',
      '<IMG SRC="x.jpg"/>caption<BR>next',
    ];
    for (const html of cases) {
      const plain = assertSameEvents(html);
      const looseAmpersand = html.includes('&amp ');
      assert.equal(plain, !looseAmpersand, JSON.stringify(html));
    }
  });

  test('anything else is left to htmlparser2: raw-text and foreign elements, unquoted attributes, CDATA, deep nesting', () => {
    for (const html of [
      '<script>a<b</script>',
      '<svg><p/></svg>',
      '<a href=x>y</a>',
      '<![CDATA[x]]>',
      '<!DOCTYPE html><p>x',
      'a < b',
      '<!-- open',
      `${'<span>'.repeat(65)}x`,
    ])
      assert.equal(plainEvents(html), undefined, JSON.stringify(html));
    assert.equal(htmlText('<p>a<script>x</script></p><p>b</p>'), 'a\n\nb');
  });

  test('random markup: whenever it reads as plain, the events are htmlparser2 events', () => {
    let seed = 1;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let plain = 0;
    for (let i = 0; i < 20_000; i++) {
      let html = '';
      for (let j = 1 + random(20); j > 0; j--) html += PIECES[random(PIECES.length)];
      if (assertSameEvents(html)) plain++;
    }
    assert.ok(plain > 2_000, `${plain} of the random documents read as plain`);
  });
});
