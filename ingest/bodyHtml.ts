import sanitizeHtml from 'sanitize-html';

/**
 * The markup an article's body keeps for display: an explicit allow-list of text
 * structure (paragraphs, headings, lists, emphasis, quotes, figures, tables) and links
 * to http, https and mailto only. Everything else is dropped: scripts, styles, frames
 * and embedded objects with their content, every attribute not listed (event handlers,
 * `style`, `class`), comments (WordPress's Gutenberg block markers among them). Tags not
 * listed are unwrapped, their text kept. NITF's own names are renamed to their HTML
 * counterparts (`hl1`/`hl2` headings, `bq` quotes); its `media` references are left
 * out (the article's images are shown from the image records).
 */
const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    'p',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'ul',
    'ol',
    'li',
    'dl',
    'dt',
    'dd',
    'em',
    'strong',
    'b',
    'i',
    'u',
    's',
    'sub',
    'sup',
    'q',
    'cite',
    'abbr',
    'code',
    'pre',
    'br',
    'hr',
    'a',
    'blockquote',
    'figure',
    'figcaption',
    'table',
    'caption',
    'thead',
    'tbody',
    'tfoot',
    'tr',
    'th',
    'td',
  ],
  allowedAttributes: {
    a: ['href', 'title'],
    abbr: ['title'],
    ol: ['start'],
    th: ['colspan', 'rowspan', 'scope'],
    td: ['colspan', 'rowspan'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: {},
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  nonTextTags: [
    'script',
    'style',
    'textarea',
    'option',
    'noscript',
    'iframe',
    'object',
    'embed',
    'template',
    'svg',
    'math',
    'head',
    'title',
    'media',
    'nitf-table-metadata',
  ],
  transformTags: {
    h1: 'h2',
    hl1: 'h2',
    hl2: 'h3',
    bq: 'blockquote',
    tagline: 'p',
  },
  // An empty paragraph (what is left of one holding only a script or a frame) goes.
  exclusiveFilter: (frame) => frame.tag === 'p' && frame.text.trim() === '' && !frame.mediaChildren.length,
};

/**
 * The sanitized display markup of a body, or undefined when nothing but whitespace is
 * left (pure; sanitizing its own output gives the same string).
 */
export function sanitizeBodyHtml(html: string): string | undefined {
  // A link whose href was removed (`javascript:`) is its text alone.
  const clean = sanitizeHtml(html, OPTIONS)
    .replace(/<a>([\s\S]*?)<\/a>/g, '$1')
    .trim();
  return clean === '' ? undefined : clean;
}
