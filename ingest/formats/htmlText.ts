import { Parser } from 'htmlparser2';
import { joinParagraphs } from './xmlTree.ts';

const HTML_BLOCKS = new Set([
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'li',
  'dt',
  'dd',
  'tr',
  'pre',
  'blockquote',
  'div',
  'section',
  'article',
  'table',
  'ul',
  'ol',
  'dl',
  'figure',
  'figcaption',
  'br',
  'hr',
]);
const HTML_SKIPPED = new Set(['script', 'style', 'iframe', 'object', 'embed', 'template']);

/** The parser events the text is made of (htmlparser2's callbacks of the same names). */
interface TextEvents {
  onopentag(name: string): void;
  ontext(text: string): void;
  onclosetag(name: string): void;
}

/** Collects the paragraphs of the text from parser events. */
function createTextCollector(): TextEvents & { text(): string } {
  const paragraphs: string[] = [];
  // The text arrives in pieces (entities split it): collected, joined once per paragraph.
  let current: string[] = [];
  let skipping = 0;
  const breakParagraph = () => {
    if (current.length > 0) paragraphs.push(current.length === 1 ? current[0]! : current.join(''));
    current = [];
  };
  return {
    onopentag(name) {
      if (HTML_SKIPPED.has(name)) skipping++;
      else if (HTML_BLOCKS.has(name)) breakParagraph();
    },
    ontext(text) {
      if (skipping > 0) return;
      if (!text.includes('\n')) {
        current.push(text);
        return;
      }
      const pieces = text.split(/\n[ \t\r]*\n/);
      current.push(pieces[0]!);
      for (const piece of pieces.slice(1)) {
        breakParagraph();
        current.push(piece);
      }
    },
    onclosetag(name) {
      if (HTML_SKIPPED.has(name)) skipping = Math.max(0, skipping - 1);
      else if (HTML_BLOCKS.has(name)) breakParagraph();
    },
    text() {
      breakParagraph();
      return joinParagraphs(paragraphs);
    },
  };
}

/**
 * The clean text of an HTML body (ninjs `body_html`, WordPress `content:encoded`), with a
 * blank line between paragraphs: block elements end a paragraph, and so does a blank
 * line in the text (WordPress stores paragraphs that way and adds the `<p>`s when it
 * renders). Comments, among them Gutenberg's `<!-- wp:paragraph -->` block markers,
 * and scripts are dropped; entities are decoded.
 *
 * Plain markup (common tags, quoted attributes, comments) is read by
 * {@link readPlainHtml}, which gives htmlparser2's events without its
 * character-by-character tokenizer (~0.9 s of a `--cpu-prof` profile of a 5,000-post
 * WordPress export); anything else is parsed by htmlparser2.
 */
export function htmlText(html: string | undefined): string {
  if (!html) return '';
  const plain = createTextCollector();
  if (readPlainHtml(html, plain)) return plain.text();
  const collector = createTextCollector();
  const parser = new Parser(collector, { decodeEntities: true });
  parser.write(html);
  parser.end();
  return collector.text();
}

const WS = '[ \\t\\n\\f\\r]'; // HTML's whitespace, which htmlparser2 goes by (not \s)
/**
 * One token of plain markup: a text run (group 1), a start tag with quoted attributes
 * (group 2: its name), an end tag (group 3: its name) or a comment. What it does not
 * match (`<` in text, unquoted attributes, `<!DOCTYPE`, CDATA, an unclosed comment) is
 * not plain. A comment ends, as in htmlparser2, at the first `-->` after `<!--`, or at
 * once when `<!--` is followed by dashes and `>` (`<!-->`, `<!--->`).
 */
const TOKEN = new RegExp(
  `([^<]+)|<([a-zA-Z][a-zA-Z0-9]*)(?:${WS}+[^ \\t\\n\\f\\r"'<>/=]+(?:${WS}*=${WS}*(?:"[^"]*"|'[^']*'))?)*${WS}*/?>|</([a-zA-Z][a-zA-Z0-9]*)${WS}*>|<!--(?:-*>|[\\s\\S]*?-->)`,
  'y',
);
/** A character reference htmlparser2 reads to its `;` and no further. */
const LOOSE_AMPERSAND = /&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);)/;

/**
 * The tags plain markup may have: none of htmlparser2's raw-text (`script`, `style`,
 * `title`, `textarea`) or foreign (`svg`, `math`) elements, nor a skipped one. Each
 * with the open elements its start tag closes (htmlparser2's `openImpliesClose`,
 * restricted to these tags).
 */
const PLAIN_TAGS = new Map<string, ReadonlySet<string>>();
const closesP = new Set(['p']);
for (const name of [
  'a',
  'b',
  'br',
  'cite',
  'code',
  'em',
  'i',
  'img',
  's',
  'small',
  'span',
  'strong',
  'sub',
  'sup',
  'u',
])
  PLAIN_TAGS.set(name, new Set());
for (const name of [
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'div',
  'figcaption',
  'figure',
  'hr',
])
  PLAIN_TAGS.set(name, closesP);
for (const name of ['ol', 'pre', 'table', 'ul']) PLAIN_TAGS.set(name, closesP);
PLAIN_TAGS.set('li', new Set(['li']));
PLAIN_TAGS.set('thead', new Set());
PLAIN_TAGS.set('tbody', new Set(['thead', 'tbody']));
PLAIN_TAGS.set('tr', new Set(['tr', 'th', 'td']));
PLAIN_TAGS.set('th', new Set(['th']));
PLAIN_TAGS.set('td', new Set(['thead', 'th', 'td']));
/** Elements without content: their start tag is also their end (htmlparser2's void elements among the plain tags). */
const VOID = new Set(['br', 'hr', 'img']);

/** Open elements plain markup may nest. */
const MAX_PLAIN_DEPTH = 64;

/** One parser for the text runs with character references: htmlparser2 decodes them. */
let referenceParser: { parser: Parser; pieces: string[] } | undefined;

/** The pieces htmlparser2 makes of a text run holding character references (text, then each reference's characters). */
function decodedPieces(run: string): string[] {
  if (!referenceParser) {
    const pieces: string[] = [];
    const parser = new Parser({ ontext: (text) => pieces.push(text) }, { decodeEntities: true });
    referenceParser = { parser, pieces };
  }
  const { parser, pieces } = referenceParser;
  pieces.length = 0;
  parser.reset();
  parser.write(run);
  parser.end();
  return pieces;
}

/**
 * Read plain markup into `events` as htmlparser2 (HTML mode, entities decoded) would
 * report it, its open-element stack included (a start tag closing an open `p` or `li`,
 * an end tag closing the elements inside, `</p>` with no `p` open as an empty `p`,
 * `</br>` as a `br`). False, with some events already given, when the markup is not
 * plain: the caller then parses it with htmlparser2 from the start.
 */
export function readPlainHtml(html: string, events: TextEvents): boolean {
  const stack: string[] = []; // innermost last
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < html.length) {
    const token = TOKEN.exec(html);
    if (!token) return false;
    const [, text, open, close] = token;
    if (text !== undefined) {
      if (!text.includes('&')) events.ontext(text);
      else if (LOOSE_AMPERSAND.test(text)) return false;
      else for (const piece of decodedPieces(text)) events.ontext(piece);
    } else if (open !== undefined) {
      const name = open.toLowerCase();
      const closes = PLAIN_TAGS.get(name);
      if (!closes) return false;
      while (stack.length > 0 && closes.has(stack.at(-1)!)) events.onclosetag(stack.pop()!);
      if (!VOID.has(name)) {
        // Real bodies nest a few levels; deep nesting makes each end tag's search of the
        // stack long (htmlparser2's too): left to htmlparser2 alone, so not paid twice.
        if (stack.length === MAX_PLAIN_DEPTH) return false;
        stack.push(name);
      }
      events.onopentag(name);
      if (VOID.has(name)) events.onclosetag(name);
    } else if (close !== undefined) {
      const name = close.toLowerCase();
      if (!PLAIN_TAGS.has(name)) return false;
      if (VOID.has(name)) {
        if (name === 'br') {
          events.onopentag(name);
          events.onclosetag(name);
        }
        continue;
      }
      const at = stack.lastIndexOf(name);
      if (at !== -1) while (stack.length > at) events.onclosetag(stack.pop()!);
      else if (name === 'p') {
        events.onopentag(name);
        events.onclosetag(name);
      }
    }
  }
  return true;
}
