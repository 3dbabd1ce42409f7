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
import { mapNitf, nitfBylineNames } from './nitf.ts';
import { attr, child, children, descendants, textOf, xmlBody } from './xmlTree.ts';
import type { XmlElement } from './xmlUnits.ts';

/** The name of a G2 property (`creator`, `subject`): its `name` child, else its `@literal`. */
const nameOf = (element: XmlElement) => textOf(child(element, 'name')) ?? attr(element, 'literal');

function g2Tags(contentMeta: XmlElement | undefined): string[] {
  const subjects = children(contentMeta, 'subject').map((s) =>
    subjectTag(attr(s, 'qcode') ?? attr(s, 'uri'), nameOf(s)),
  );
  const keywords = children(contentMeta, 'keyword').map((k) => textOf(k));
  return distinct([...subjects, ...keywords]).slice(0, 100);
}

/** The text (and, from `inlineXML`, the markup) of a text item's content. */
function g2Body(contentSet: XmlElement | undefined): { body: string; bodyHtml?: string } {
  const inline = child(contentSet, 'inlineXML');
  if (inline) {
    const nitfContent = descendants(inline, 'body.content')[0];
    const content = nitfContent ?? descendants(inline, 'body')[0] ?? inline;
    return xmlBody(content);
  }
  return { body: textOf(child(contentSet, 'inlineData')) ?? '' };
}

function g2Picture(
  id: string,
  contentMeta: XmlElement | undefined,
  contentSet: XmlElement | undefined,
): MappedItem {
  const remotes = children(contentSet, 'remoteContent');
  const best =
    remotes.find((r) => /highres|original|baseimage/i.test(attr(r, 'rendition') ?? '')) ?? remotes[0];
  const href = attr(best, 'href') ?? attr(best, 'residref');
  if (!href) return rejected('contentSet/remoteContent/@href', 'a picture item without a remoteContent href');
  const caption = textOf(children(contentMeta, 'description')[0]) ?? textOf(child(contentMeta, 'headline'));
  const credit = textOf(child(contentMeta, 'creditline')) ?? children(contentMeta, 'creator').map(nameOf)[0];
  return {
    records: [
      {
        kind: 'image',
        id,
        file: fileNameOf(href),
        ...(caption ? { caption: caption.slice(0, 5000) } : {}),
        ...(credit ? { credit: credit.slice(0, 500) } : {}),
      },
    ],
  };
}

function g2Bylines(contentMeta: XmlElement | undefined, contentSet: XmlElement | undefined): MappedRecord[] {
  const creators = distinct(children(contentMeta, 'creator').map(nameOf));
  const names =
    creators.length > 0
      ? creators
      : nitfBylineNames(descendants(child(contentSet, 'inlineXML'), 'byline')[0]);
  return names.map((name) => ({ kind: 'byline', id: bylineIdOf('g2', name), name }));
}

/**
 * Map a NewsML-G2 news item (2.x) to presslog records (pure): a text item to an article,
 * a picture item to an image. The id is the item's `@guid` (a later `@version` of the
 * same guid is a revision of the same article); the publish date is
 * `itemMeta/firstCreated`, else `contentMeta/contentCreated`.
 */
export function mapNewsItem(item: XmlElement): MappedItem {
  const guid = attr(item, 'guid');
  if (!guid) return rejected('newsItem/@guid', 'no guid');
  const itemMeta = child(item, 'itemMeta');
  const contentMeta = child(item, 'contentMeta');
  const contentSet = child(item, 'contentSet');
  const itemClass = attr(child(itemMeta, 'itemClass'), 'qcode') ?? '';
  if (/picture|graphic/.test(itemClass)) return g2Picture(stableId('g2-img', guid), contentMeta, contentSet);
  if (!/text|composite/.test(itemClass)) {
    return {
      records: [],
      skipped: `item class ${JSON.stringify(itemClass)} is not text or a picture; skipped`,
    };
  }
  const inlineNitf = descendants(child(contentSet, 'inlineXML'), 'nitf')[0];
  const headline = textOf(child(contentMeta, 'headline')) ?? textOf(descendants(inlineNitf, 'hl1')[0]);
  if (!headline) return rejected('contentMeta/headline', 'no headline');
  const published = firstDate([
    ['itemMeta/firstCreated', textOf(child(itemMeta, 'firstCreated'))],
    ['contentMeta/contentCreated', textOf(child(contentMeta, 'contentCreated'))],
  ]);
  if ('reason' in published) return rejected(published.field, published.reason);
  const versionCreated = isoDate(textOf(child(itemMeta, 'versionCreated')));
  const bylines = g2Bylines(contentMeta, contentSet);
  const article: MappedRecord = {
    kind: 'article',
    id: stableId('g2', guid),
    headline: headline.slice(0, 1000),
    ...g2Body(contentSet),
    publishedAt: published.iso,
    bylines: bylines.map((b) => b.id),
    images: [],
    tags: g2Tags(contentMeta),
    ...(versionCreated && 'iso' in versionCreated ? { updatedAt: versionCreated.iso } : {}),
  };
  return { records: [...bylines, article] };
}

/** What a package item says: its guid and the guids of the items it groups (`itemRef/@residref`). */
export interface G2Package {
  guid: string;
  refs: string[];
}

/** The items a `packageItem` groups, in its groups' order (nested groups and all). */
export function g2PackageRefs(unit: XmlElement): G2Package {
  const refs = descendants(unit, 'itemRef')
    .map((ref) => attr(ref, 'residref'))
    .filter((r): r is string => r !== undefined && r.trim() !== '');
  return { guid: attr(unit, 'guid') ?? '(no guid)', refs: distinct(refs) };
}

/**
 * NewsML-G2 units: news items (alone or in a news message), and packages, which come
 * back as their references (`package`) for the reader to link within the file.
 */
export function mapG2Unit(unit: XmlElement): MappedItem & { package?: G2Package } {
  if (unit.local === 'newsItem') return mapNewsItem(unit);
  if (unit.local === 'nitf') return mapNitf(unit);
  if (unit.local === 'packageItem') return { records: [], package: g2PackageRefs(unit) };
  return { records: [], skipped: `<${unit.name}> is not mapped (only news items and packages are); skipped` };
}

/** The guid a mapped G2 item came from, as its ids are made (`g2-<guid>`, `g2-img-<guid>`). */
export const g2ArticleId = (guid: string) => stableId('g2', guid);
export const g2ImageId = (guid: string) => stableId('g2-img', guid);

/**
 * Link a file's packages to its items (pure): each package's text items get the
 * package's picture items as images, in package order after their own. A reference to
 * an item not in the file is a warning (`missing`), never a guess; so is a package that
 * groups no text item (its pictures are ingested alone).
 */
export function linkG2Packages(
  packages: readonly G2Package[],
  items: ReadonlyArray<{ records: MappedRecord[] }>,
): { articles: Map<string, string[]>; warnings: Array<{ package: number; message: string }> } {
  const articleIds = new Set<string>();
  const imageIds = new Set<string>();
  for (const item of items) {
    for (const r of item.records) {
      if (r.kind === 'article') articleIds.add(r.id);
      else if (r.kind === 'image') imageIds.add(r.id);
    }
  }
  const articles = new Map<string, string[]>();
  const warnings: Array<{ package: number; message: string }> = [];
  for (const [index, pkg] of packages.entries()) {
    const texts: string[] = [];
    const pictures: string[] = [];
    for (const ref of pkg.refs) {
      if (articleIds.has(g2ArticleId(ref))) texts.push(g2ArticleId(ref));
      else if (imageIds.has(g2ImageId(ref))) pictures.push(g2ImageId(ref));
      else
        warnings.push({
          package: index,
          message: `package ${JSON.stringify(pkg.guid)} refers to item ${JSON.stringify(ref)}, which is not in this file (or was not ingested); not linked`,
        });
    }
    if (texts.length === 0 && pictures.length > 0)
      warnings.push({
        package: index,
        message: `package ${JSON.stringify(pkg.guid)} groups no text item in this file; its pictures stand alone`,
      });
    for (const id of texts) articles.set(id, distinct([...(articles.get(id) ?? []), ...pictures]));
  }
  return { articles, warnings };
}

export const G2_UNITS = new Set(['newsItem', 'packageItem', 'conceptItem', 'planningItem', 'knowledgeItem']);
