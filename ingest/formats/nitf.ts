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
import { at, attr, child, children, descendants, textOf, xmlBody } from './xmlTree.ts';
import type { XmlElement } from './xmlUnits.ts';

/** Byline names of an NITF `byline`: its `person`s, else its text without "By" and the title. */
export function nitfBylineNames(byline: XmlElement | undefined): string[] {
  if (!byline) return [];
  const persons = descendants(byline, 'person').map(textOf);
  if (persons.some(Boolean)) return distinct(persons);
  const withoutTitle = {
    ...byline,
    children: byline.children.filter((c) => typeof c === 'string' || c.local !== 'byttl'),
  };
  const text = textOf(withoutTitle)
    ?.replace(/^by\s+/i, '')
    .replace(/[,;]\s*$/, '')
    .trim();
  return distinct([text]);
}

function nitfTags(head: XmlElement | undefined): string[] {
  const keywords = children(at(head, 'docdata', 'key-list'), 'keyword').map((k) => attr(k, 'key'));
  const subjects = descendants(child(head, 'tobject'), 'tobject.subject').map((s) => {
    const ref = attr(s, 'tobject.subject.refnum');
    const ipr = attr(s, 'tobject.subject.ipr');
    const code = ref ? `${!ipr || ipr === 'IPTC' ? 'subj' : ipr}:${ref}` : undefined;
    const label =
      attr(s, 'tobject.subject.detail') ??
      attr(s, 'tobject.subject.matter') ??
      attr(s, 'tobject.subject.type');
    return subjectTag(code, label);
  });
  return distinct([...keywords, ...subjects]).slice(0, 100);
}

function nitfImages(docId: string, content: XmlElement | undefined): MappedRecord[] {
  return descendants(content, 'media')
    .filter((m) => (attr(m, 'media-type') ?? 'image') === 'image')
    .flatMap((media) => {
      const source = attr(child(media, 'media-reference'), 'source');
      if (!source) return [];
      const caption = textOf(child(media, 'media-caption'));
      const credit = textOf(child(media, 'media-producer'));
      return [
        {
          kind: 'image' as const,
          id: stableId('nitf-img', docId, source),
          file: fileNameOf(source),
          ...(caption ? { caption } : {}),
          ...(credit ? { credit } : {}),
        },
      ];
    });
}

/**
 * Map an NITF document (3.x, and the `nitf` inside NewsML-G2) to presslog records
 * (pure). The id comes from `doc-id/@id-string`; the publish date from
 * `pubdata/@date.publication`, else `date.release`, else `date.issue`.
 */
export function mapNitf(nitf: XmlElement): MappedItem {
  const head = child(nitf, 'head');
  const docdata = child(head, 'docdata');
  const docId = attr(child(docdata, 'doc-id'), 'id-string');
  if (!docId) return rejected('head/docdata/doc-id/@id-string', 'no document id (doc-id id-string)');
  const bodyHead = at(nitf, 'body', 'body.head');
  const headline = textOf(at(bodyHead, 'hedline', 'hl1')) ?? textOf(child(head, 'title'));
  if (!headline) return rejected('body.head/hedline/hl1', 'no headline (hedline/hl1 or head/title)');
  const published = firstDate([
    ['head/pubdata/@date.publication', attr(child(head, 'pubdata'), 'date.publication')],
    ['head/docdata/date.release/@norm', attr(child(docdata, 'date.release'), 'norm')],
    ['head/docdata/date.issue/@norm', attr(child(docdata, 'date.issue'), 'norm')],
  ]);
  if ('reason' in published) return rejected(published.field, published.reason);
  const issued = isoDate(attr(child(docdata, 'date.issue'), 'norm'));
  const content = at(nitf, 'body', 'body.content');
  const bylines: MappedRecord[] = nitfBylineNames(child(bodyHead, 'byline')).map((name) => ({
    kind: 'byline',
    id: bylineIdOf('nitf', name),
    name,
  }));
  const images = nitfImages(docId, content);
  const section = attr(child(head, 'pubdata'), 'position.section')?.slice(0, 100);
  const { body, bodyHtml } = xmlBody(content);
  const article: MappedRecord = {
    kind: 'article',
    id: stableId('nitf', docId),
    headline: headline.slice(0, 1000),
    body,
    ...(bodyHtml ? { bodyHtml } : {}),
    ...(section ? { section } : {}),
    publishedAt: published.iso,
    bylines: bylines.map((b) => b.id),
    images: images.map((i) => i.id),
    tags: nitfTags(head),
    ...(issued && 'iso' in issued ? { updatedAt: issued.iso } : {}),
  };
  return { records: [...bylines, ...images, article] };
}
