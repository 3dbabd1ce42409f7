/** A made-up content digest, unique per `i`. */
export function benchDigest(i: number): string {
  return `sha256:${i.toString(16).padStart(64, '0')}`;
}

/** The three renditions of a processed 4000×3000 photo, digests `first`, `first + 1`, `first + 2`. */
export function benchRenditions(first: number) {
  return ['thumbnail', 'medium', 'webp'].map((name, k) => ({
    name,
    digest: benchDigest(first + k),
    bytes: 10_000 * (k + 1),
    mediaType: name === 'webp' ? 'image/webp' : 'image/jpeg',
    width: 320 * (k + 1),
    height: 240 * (k + 1),
  }));
}
