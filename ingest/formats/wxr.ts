import { htmlText } from './htmlText.ts';
import {
  bylineIdOf,
  distinct,
  fileNameOf,
  firstDate,
  isoDate,
  type MappedItem,
  type MappedRecord,
  rejected,
  stableId,
} from './mapped.ts';
import { child, children, textOf } from './xmlTree.ts';
import type { XmlElement } from './xmlUnits.ts';

/** What a WXR export says before its items: the site and its authors. */
export interface WxrChannel {
  siteUrl?: string;
  /** Author login → display name (emails are never kept). */
  authors: Map<string, string>;
}

export const createWxrChannel = (): WxrChannel => ({ authors: new Map() });

/** Take in a channel-level unit (`wp:base_site_url`, `link`, `wp:author`); false for an item. */
export function readWxrChannelUnit(unit: XmlElement, channel: WxrChannel): boolean {
  if (unit.name === 'wp:base_site_url') channel.siteUrl = textOf(unit);
  else if (unit.local === 'link') channel.siteUrl ??= textOf(unit);
  else if (unit.name === 'wp:author') {
    const login = textOf(child(unit, 'author_login'));
    const name = textOf(child(unit, 'author_display_name')) ?? login;
    if (login && name) channel.authors.set(login, name);
  } else return false;
  return true;
}

const siteKey = (siteUrl: string) => siteUrl.replace(/^https?:\/\//, '').replace(/\/+$/, '');

function meta(item: XmlElement, key: string): string | undefined {
  const entry = children(item, 'postmeta').find((m) => textOf(child(m, 'meta_key')) === key);
  return textOf(child(entry, 'meta_value'));
}

/** `2013-07-29 16:03:54` (GMT, as WordPress writes it) → ISO; the zero date of drafts is no date. */
function gmt(value: string | undefined): string | undefined {
  if (!value || value.startsWith('0000-00-00')) return undefined;
  return `${value.trim().replace(' ', 'T')}Z`;
}

function rfc822(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) || !/[+-]\d{4}|GMT|UTC|Z/.test(value) ? undefined : new Date(time).toISOString();
}

function wxrAttachment(item: XmlElement, site: string, postId: string): MappedItem {
  const url = textOf(child(item, 'attachment_url'));
  const attached = meta(item, '_wp_attached_file');
  const file =
    attached ??
    (url?.includes('/uploads/') ? decodeURIComponent(url.split('/uploads/').pop()!) : url && fileNameOf(url));
  if (!file)
    return rejected(
      'wp:attachment_url',
      'an attachment without a file (wp:attachment_url or _wp_attached_file)',
    );
  // WordPress keeps an attachment's caption as its excerpt (its content is the description).
  const excerpt = children(item, 'encoded').find((e) => e.name === 'excerpt:encoded');
  const caption = textOf(excerpt) ?? meta(item, '_wp_attachment_image_alt') ?? textOf(child(item, 'title'));
  return {
    records: [
      {
        kind: 'image',
        id: stableId('wxr', site, 'media', postId),
        file,
        ...(caption ? { caption: caption.slice(0, 5000) } : {}),
      },
    ],
  };
}

function wxrCategories(item: XmlElement): { section?: string; tags: string[] } {
  const categories = children(item, 'category');
  const named = (domain: string) =>
    categories.filter((c) => (c.attrs.domain ?? 'category') === domain).map((c) => textOf(c));
  const [section, ...more] = distinct(named('category'));
  return {
    section: section?.slice(0, 100),
    tags: distinct([...more, ...named('post_tag')].map((t) => t?.slice(0, 100))).slice(0, 100),
  };
}

const BLOCK_START = /^<(?:p|h[1-6]|ul|ol|dl|li|blockquote|figure|table|pre|div|hr|!--)[\s>/-]/i;

/**
 * WordPress's stored content as the markup it renders: classic-editor posts keep their
 * paragraphs as blank lines and WordPress adds the `<p>`s when it shows them (`wpautop`);
 * each blank-line-separated run not already a block becomes a paragraph, its single
 * line breaks `<br>`s. Gutenberg
 * content, already in blocks, passes unchanged (its block comments are dropped when
 * sanitizing).
 */
function withParagraphs(html: string): string {
  return html
    .split(/\n[ \t\r]*\n/)
    .map((run) => run.trim())
    .filter((run) => run !== '')
    .map((run) => (BLOCK_START.test(run) ? run : `<p>${run.replace(/\s*\n\s*/g, '<br>\n')}</p>`))
    .join('\n');
}

/** The attachment ids a post uses: its featured image and the `wp-image-N` images in its content. */
function attachmentIds(item: XmlElement, html: string): string[] {
  const ids = [meta(item, '_thumbnail_id'), ...[...html.matchAll(/wp-image-(\d+)/g)].map((m) => m[1])];
  return distinct(ids);
}

/**
 * Map one WordPress export item (WXR 1.1-1.2) to presslog records (pure): a published
 * post to an article, an attachment to an image. Ids join the site URL and
 * `wp:post_id`; the publish date is `wp:post_date_gmt`, else `pubDate`;
 * `wp:post_modified_gmt` dates a revision. Authors come from the channel's
 * `wp:author` (display name; the e-mail address is never read).
 */
export function mapWxrItem(item: XmlElement, channel: WxrChannel): MappedItem {
  const type = textOf(child(item, 'post_type')) ?? 'post';
  const postId = textOf(child(item, 'post_id'));
  if (type !== 'post' && type !== 'attachment') return { records: [] };
  if (!postId) return rejected('wp:post_id', 'no post id');
  if (!channel.siteUrl)
    return rejected('wp:base_site_url', 'the export names no site (wp:base_site_url or channel link)');
  const site = siteKey(channel.siteUrl);
  if (type === 'attachment') return wxrAttachment(item, site, postId);
  const status = textOf(child(item, 'status')) ?? 'publish';
  if (status !== 'publish')
    return {
      records: [],
      skipped: `post ${postId} has status ${JSON.stringify(status)}, not published; skipped`,
    };
  const headline = textOf(child(item, 'title'));
  if (!headline) return rejected('title', `post ${postId} has no title`);
  const published = firstDate([
    ['wp:post_date_gmt', gmt(textOf(child(item, 'post_date_gmt')))],
    ['pubDate', rfc822(textOf(child(item, 'pubDate')))],
  ]);
  if ('reason' in published) return rejected(published.field, published.reason);
  const modified = isoDate(gmt(textOf(child(item, 'post_modified_gmt'))));
  const html = children(item, 'encoded').find((e) => e.name === 'content:encoded');
  const rawHtml = html ? html.children.filter((c): c is string => typeof c === 'string').join('') : '';
  const login = textOf(child(item, 'creator'));
  const name = login ? (channel.authors.get(login) ?? login) : undefined;
  const bylines: MappedRecord[] = name
    ? [{ kind: 'byline', id: bylineIdOf('wxr', `${site} ${login}`), name }]
    : [];
  const { section, tags } = wxrCategories(item);
  const article: MappedRecord = {
    kind: 'article',
    id: stableId('wxr', site, postId),
    headline: headline.slice(0, 1000),
    body: htmlText(rawHtml),
    ...(rawHtml.trim() ? { bodyHtml: withParagraphs(rawHtml) } : {}),
    ...(section ? { section } : {}),
    publishedAt: published.iso,
    bylines: bylines.map((b) => b.id),
    images: attachmentIds(item, rawHtml).map((id) => stableId('wxr', site, 'media', id)),
    tags,
    ...(modified && 'iso' in modified ? { updatedAt: modified.iso } : {}),
  };
  return { records: [...bylines, article] };
}
