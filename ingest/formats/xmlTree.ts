import type { XmlElement, XmlNode } from './xmlUnits.ts';

/** Whitespace that collapsing would change: a run, or a tab, line break or other space character. */
// Spelled out (every \s but the space, or a space before another): twice as fast as /\s\s|[^\S ]/ here.
const LOOSE_SPACE = /[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]| \s/;

/** The first child element with this local name (namespace prefixes ignored). */
export function child(element: XmlElement | undefined, local: string): XmlElement | undefined {
  if (!element) return undefined;
  for (const node of element.children) if (typeof node !== 'string' && node.local === local) return node;
  return undefined;
}

/** Every child element with this local name. */
export function children(element: XmlElement | undefined, local: string): XmlElement[] {
  if (!element) return [];
  return element.children.filter((n): n is XmlElement => typeof n !== 'string' && n.local === local);
}

/** Follow a path of local names through first children. */
export function at(element: XmlElement | undefined, ...path: string[]): XmlElement | undefined {
  let current = element;
  for (const local of path) current = child(current, local);
  return current;
}

/** Every descendant element with this local name, in document order. */
export function descendants(element: XmlElement | undefined, local: string): XmlElement[] {
  const found: XmlElement[] = [];
  const walk = (node: XmlNode) => {
    if (typeof node === 'string') return;
    if (node.local === local) found.push(node);
    for (const c of node.children) walk(c);
  };
  if (element) for (const c of element.children) walk(c);
  return found;
}

/** All the text inside, whitespace runs collapsed; undefined when there is none. */
export function textOf(element: XmlElement | undefined): string | undefined {
  if (!element) return undefined;
  const parts: string[] = [];
  const walk = (node: XmlNode) => {
    if (typeof node === 'string') parts.push(node);
    else for (const c of node.children) walk(c);
  };
  walk(element);
  const text = parts.join('').replace(/\s+/g, ' ').trim();
  return text === '' ? undefined : text;
}

/** An attribute by its local name (namespace prefixes ignored). */
export function attr(element: XmlElement | undefined, local: string): string | undefined {
  if (!element) return undefined;
  if (local in element.attrs) return element.attrs[local];
  for (const [name, value] of Object.entries(element.attrs)) if (name.endsWith(`:${local}`)) return value;
  return undefined;
}

/** Elements whose text is a block of its own: they end a paragraph. */
const BLOCKS = new Set([
  'p',
  'hl1',
  'hl2',
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
  'bq',
  'block',
  'div',
  'section',
  'table',
  'ul',
  'ol',
  'dl',
  'figure',
  'figcaption',
  'caption',
  'br',
  'hr',
  'media-caption',
  'tagline',
  'credit',
]);
/** Elements whose content is not part of the text (NITF media references, embedded objects). */
const SKIPPED = new Set(['media', 'media-reference', 'media-object', 'script', 'style']);

/** Collapse each paragraph's whitespace and join paragraphs with a blank line. */
export function joinParagraphs(paragraphs: readonly string[]): string {
  let out = '';
  for (const p of paragraphs) {
    // Most paragraphs are single-spaced already: test before rewriting them.
    const clean = LOOSE_SPACE.test(p) ? p.replace(/\s+/g, ' ').trim() : p.trim();
    if (clean === '') continue;
    out = out === '' ? clean : `${out}\n\n${clean}`;
  }
  return out;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
// One scan per text (most have nothing to escape), not one per character escaped.
const escapeText = (text: string) => text.replace(/[&<>]/g, (c) => ESCAPES[c]!);
const escapeAttr = (text: string) => text.replace(/[&<>"]/g, (c) => ESCAPES[c]!);

/** A body in XML markup as a record's `body` and `bodyHtml`. */
export interface XmlBody {
  /** The clean text: paragraphs separated by a blank line; empty when there is none. */
  body: string;
  /** The markup inside the element; absent when the element holds no text. */
  bodyHtml?: string;
}

/**
 * The text and the markup of a body in XML markup (NITF `body.content`, XHTML in
 * `inlineXML`), from one walk that tests each text node's whitespace once (both used to
 * walk the tree and test it, the text a second time per paragraph: ~0.3 s of a
 * `--cpu-prof` profile of 5,000 NITF files).
 *
 * The text: paragraphs, headings, list items and table rows each become a paragraph,
 * whitespace runs collapsed, separated by a blank line; media references and scripts
 * are left out.
 *
 * The markup: the element's children written back as XML, names without their
 * namespace prefix, for the display copy; sanitized later like any markup
 * (ingest/bodyHtml.ts), which renames NITF's elements and drops what is not allowed.
 * Runs of whitespace in text become one space (`pre` is not kept apart: news markup
 * hardly has it).
 */
export function xmlBody(element: XmlElement | undefined): XmlBody {
  if (!element) return { body: '' };
  const out: string[] = [];
  let hasText = false;
  let body = '';
  let current = '';
  // Whether `current` may hold loose whitespace: one of its texts does, or two meet in two spaces.
  let currentLoose = false;
  const endParagraph = () => {
    // Most paragraphs are single-spaced already: rewritten only when loose.
    const clean = currentLoose ? current.replace(/\s+/g, ' ').trim() : current.trim();
    if (clean !== '') body = body === '' ? clean : `${body}\n\n${clean}`;
    current = '';
    currentLoose = false;
  };
  const walk = (node: XmlNode, skipped: boolean) => {
    if (typeof node === 'string') {
      const loose = LOOSE_SPACE.test(node);
      if (!hasText && node.trim() !== '') hasText = true;
      // Indentation of the source file means nothing in HTML: one space is the same.
      out.push(escapeText(loose ? node.replace(/\s+/g, ' ') : node));
      if (!skipped) {
        if (loose || (current.endsWith(' ') && node.startsWith(' '))) currentLoose = true;
        current += node;
      }
      return;
    }
    // The markup keeps what the text leaves out (the sanitizer decides about it).
    const inSkipped = skipped || SKIPPED.has(node.local);
    const block = !inSkipped && BLOCKS.has(node.local);
    if (block) endParagraph();
    out.push('<', node.local);
    for (const name in node.attrs) out.push(' ', localOf(name), '="', escapeAttr(node.attrs[name]!), '"');
    out.push('>');
    for (const c of node.children) walk(c, inSkipped);
    out.push('</', node.local, '>');
    if (block) endParagraph();
  };
  for (const c of element.children) walk(c, false);
  endParagraph();
  return hasText ? { body, bodyHtml: out.join('') } : { body };
}

const localOf = (name: string) => name.slice(name.indexOf(':') + 1);
