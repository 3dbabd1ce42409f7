/** A piece of highlighted text: plain text, and whether it is a match. */
export interface HighlightSegment {
  text: string;
  match: boolean;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Undo Elasticsearch's `encoder: html` escaping (named and numeric entities). */
export function decodeEntities(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code = /^#x/i.test(name) ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}

/**
 * Split a highlight (escaped text with `<mark>` around matches) into plain-text segments,
 * for outputs that are not HTML: the terminal marks matches in bold or with `**`.
 */
export function highlightSegments(html: string): HighlightSegment[] {
  const segments: HighlightSegment[] = [];
  let match = false;
  for (const part of html.split(/(<\/?mark>)/)) {
    if (part === '<mark>') match = true;
    else if (part === '</mark>') match = false;
    else if (part !== '') segments.push({ text: decodeEntities(part), match });
  }
  return segments;
}
