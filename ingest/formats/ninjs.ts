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
  subjectTag,
} from './mapped.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : isObject(v) ? Object.values(v) : []);

/** ninjs 3.x spells properties in camelCase (`versionCreated`), 1.x-2.x in lower case: read both alike. */
export function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lowerKeys(v)]));
}

/** The `value` of the first entry with a role in `roles` (else the first entry), of a ninjs 2.x+ list. */
function entryWithRole(entries: unknown, roles: readonly string[]): Json | undefined {
  const items = list(entries).filter(isObject);
  return items.find((e) => roles.includes(String(e.role ?? ''))) ?? items[0];
}

const isMarkup = (body: Json) => /html|xml/.test(String(body.contenttype ?? body.role ?? 'text/html'));

/**
 * The body's text and markup: the text from `body_text` (1.x) or a plain-text entry of
 * `bodies` (2.x+), else from the markup; the markup from `body_html`, else a `bodies`
 * entry in HTML. With neither, the description is the text.
 */
function ninjsBody(item: Json): { body: string; bodyHtml?: string } {
  const bodies = list(item.bodies).filter(isObject);
  const htmlEntry = bodies.find((b) => isMarkup(b) && str(b.value));
  const plainEntry = bodies.find((b) => !isMarkup(b) && str(b.value));
  const html = str(item.body_html) ?? str(htmlEntry?.value);
  const plain = str(item.body_text) ?? str(plainEntry?.value);
  const withHtml = html ? { bodyHtml: html } : {};
  if (plain) return { body: htmlText(plain.replace(/\n/g, '\n\n')), ...withHtml };
  if (html) return { body: htmlText(html), ...withHtml };
  const description =
    str(item.description_text) ?? str(entryWithRole(item.descriptions, ['text', 'summary'])?.value);
  return { body: description ? htmlText(description) : '' };
}

function ninjsBylines(item: Json): MappedRecord[] {
  const people = list(item.people)
    .filter(isObject)
    .filter((p) => !p.rel || /author|creator|writer|byline|photographer/i.test(String(p.rel)))
    .map((p) => str(p.name));
  const by = str(item.by) ?? str(item.byline);
  const names = by ? [by] : distinct(people);
  return names.map((name) => ({ kind: 'byline', id: bylineIdOf('ninjs', name), name: name.slice(0, 300) }));
}

function ninjsTags(item: Json): string[] {
  const subjects = [...list(item.subject), ...list(item.subjects)]
    .filter(isObject)
    .map((s) => subjectTag(str(s.code) ?? str(s.literal) ?? str(s.uri), str(s.name)));
  const keywords = list(item.keywords).map(str);
  return distinct([...subjects, ...keywords]).slice(0, 100);
}

/** An image record for a ninjs picture (an item, or an association), or undefined when it names no file. */
function ninjsImage(picture: Json, fallbackId: string): MappedRecord | undefined {
  const renditions = list(picture.renditions).filter(isObject);
  const best =
    renditions.find((r) => /original|base|hires|highres/i.test(`${r.name ?? ''} ${r.title ?? ''}`)) ??
    renditions[0];
  const href = str(best?.href) ?? str(picture.uri);
  if (!href) return undefined;
  const caption =
    str(picture.description_text) ??
    str(
      list(picture.descriptions)
        .filter(isObject)
        .find((d) => d.role !== 'creditline')?.value,
    ) ??
    str(picture.headline);
  const creditLine = list(picture.descriptions)
    .filter(isObject)
    .find((d) => d.role === 'creditline');
  const credit = str(creditLine?.value) ?? str(picture.by) ?? str(picture.copyrightholder);
  return {
    kind: 'image',
    id: stableId('ninjs-img', str(picture.uri) ?? fallbackId),
    file: fileNameOf(href),
    ...(caption ? { caption: caption.slice(0, 5000) } : {}),
    ...(credit ? { credit: credit.slice(0, 500) } : {}),
  };
}

/**
 * Map one ninjs item (1.x-3.x) to presslog records (pure): a text item to an article
 * with its pictures (associations) and bylines; a picture item to an image. The id
 * is the item's `uri`, so a later `version` of it is a revision; the publish date is
 * `firstcreated`, else `contentcreated`, else `versioncreated`; `versioncreated` dates
 * the revision.
 */
export function mapNinjs(value: unknown): MappedItem {
  const item = lowerKeys(value);
  if (!isObject(item)) return rejected('', 'a ninjs item must be a JSON object');
  const uri = str(item.uri);
  if (!uri) return rejected('uri', 'no uri');
  const type = str(item.type) ?? 'text';
  if (type === 'picture' || type === 'graphic') {
    const image = ninjsImage(item, uri);
    return image ? { records: [image] } : rejected('renditions', 'a picture without a rendition href');
  }
  if (type !== 'text' && type !== 'composite')
    return { records: [], skipped: `ninjs type ${JSON.stringify(type)} is not text or a picture; skipped` };
  const headline = str(item.headline) ?? str(entryWithRole(item.headlines, ['main'])?.value);
  if (!headline) return rejected('headline', 'no headline (headline or headlines[].value)');
  const published = firstDate([
    ['firstcreated', str(item.firstcreated)],
    ['contentcreated', str(item.contentcreated)],
    // Agency feeds (dpa, TT) send only the version's time; for a first version it is the publish time.
    ['versioncreated', str(item.versioncreated)],
  ]);
  if ('reason' in published) return rejected(published.field, published.reason);
  const versionCreated = isoDate(str(item.versioncreated));
  const bylines = ninjsBylines(item);
  const images = list(item.associations)
    .filter(isObject)
    .filter((a) => a.type === 'picture' || a.type === 'graphic')
    .map((a, i) => ninjsImage(a, `${uri} ${str(a.name) ?? i}`))
    .filter((i): i is MappedRecord => i !== undefined);
  const article: MappedRecord = {
    kind: 'article',
    id: stableId('ninjs', uri),
    headline: headline.slice(0, 1000),
    ...ninjsBody(item),
    publishedAt: published.iso,
    bylines: bylines.map((b) => b.id),
    images: images.map((i) => i.id),
    tags: ninjsTags(item),
    ...(versionCreated && 'iso' in versionCreated ? { updatedAt: versionCreated.iso } : {}),
  };
  return { records: [...bylines, ...images, article] };
}
