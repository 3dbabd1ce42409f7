import type { ArticleDoc } from '../../schemas/documents.ts';
import type { ArticleState, BylineState, ImageState } from '../../schemas/state.ts';

/** A ninjs 2.x item (the fields presslog fills). */
export type NinjsItem = Record<string, unknown>;

/** The ninjs `uri` of a presslog item: stable, and read back to the same id by `--format ninjs`. */
export const ninjsUri = (kind: 'article' | 'image' | 'byline', id: string) => `urn:presslog:${kind}:${id}`;

function picture(id: string, image: ImageState | undefined): NinjsItem {
  const caption = image?.caption ?? image?.processed?.embedded?.caption;
  const credit = image?.credit ?? image?.processed?.embedded?.credit;
  return {
    uri: ninjsUri('image', id),
    type: 'picture',
    ...(caption ? { descriptions: [{ role: 'caption', contenttype: 'text/plain', value: caption }] } : {}),
    ...(credit ? { by: credit } : {}),
    ...(image?.fileName
      ? { renditions: [{ name: 'original', href: image.fileName, contenttype: image.original.mediaType }] }
      : {}),
  };
}

/**
 * An article as a ninjs 2.x text item (pure): `uri`, `version` (the number of published
 * versions), `firstcreated` (publish date), `versioncreated`, `headlines`, `bodies`
 * (plain text), `body_html` (the sanitized markup, when the source had some), `by` and `people` (bylines), `subjects` (tags), `genres` (section) and
 * its pictures as `associations`.
 */
export function articleToNinjs(
  state: ArticleState,
  revisions: number,
  bylines: (id: string) => BylineState | undefined,
  images: (id: string) => ImageState | undefined,
): NinjsItem {
  const { fields } = state;
  const people = fields.bylineIds.map((id) => ({
    name: bylines(id)?.fields.name ?? id,
    rel: 'author',
    literal: id,
  }));
  return {
    uri: ninjsUri('article', state.id),
    type: 'text',
    version: String(revisions),
    firstcreated: fields.publishedAt,
    versioncreated: state.updatedAt,
    pubstatus: 'usable',
    headlines: [{ role: 'main', value: fields.headline }],
    bodies: [{ role: 'text', contenttype: 'text/plain', value: fields.body }],
    ...(fields.bodyHtml ? { body_html: fields.bodyHtml } : {}),
    ...(people.length > 0 ? { by: people.map((p) => p.name).join(', '), people } : {}),
    ...(fields.tags.length > 0 ? { subjects: fields.tags.map((name) => ({ name })) } : {}),
    ...(fields.section ? { genres: [{ name: fields.section }] } : {}),
    ...(fields.imageIds.length > 0
      ? { associations: fields.imageIds.map((id) => picture(id, images(id))) }
      : {}),
  };
}

/**
 * An indexed article document as a ninjs 2.x item (pure), for `GET /api/articles/:id?format=ninjs`:
 * the same item `presslog export --format ninjs` writes, its pictures' renditions as
 * `/renditions/<digest>` links.
 */
export function articleDocToNinjs(doc: ArticleDoc): NinjsItem {
  const people = doc.bylines.map((b) => ({ name: b.name ?? b.id, rel: 'author', literal: b.id }));
  return {
    uri: ninjsUri('article', doc.id),
    type: 'text',
    version: String(doc.revisions),
    firstcreated: doc.publishedAt,
    versioncreated: doc.updatedAt,
    pubstatus: 'usable',
    headlines: [{ role: 'main', value: doc.headline }],
    bodies: [{ role: 'text', contenttype: 'text/plain', value: doc.body }],
    ...(doc.bodyHtml ? { body_html: doc.bodyHtml } : {}),
    ...(people.length > 0 ? { by: people.map((p) => p.name).join(', '), people } : {}),
    ...(doc.tags.length > 0 ? { subjects: doc.tags.map((name) => ({ name })) } : {}),
    ...(doc.section ? { genres: [{ name: doc.section }] } : {}),
    ...(doc.images.length > 0
      ? {
          associations: doc.images.map((image) => ({
            uri: ninjsUri('image', image.id),
            type: 'picture',
            ...(image.caption
              ? { descriptions: [{ role: 'caption', contenttype: 'text/plain', value: image.caption }] }
              : {}),
            ...(image.credit ? { by: image.credit } : {}),
            ...(image.renditions.length > 0
              ? {
                  renditions: image.renditions.map((r) => ({
                    name: r.name,
                    href: `/renditions/${r.digest}`,
                    contenttype: r.mediaType,
                    width: r.width,
                    height: r.height,
                  })),
                }
              : {}),
          })),
        }
      : {}),
  };
}
