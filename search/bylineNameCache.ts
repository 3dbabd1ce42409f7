/**
 * Byline names for facets, remembered for a while: every first page names up to 50 byline
 * facets, mostly the same prolific names, and a name changes rarely (a `BylineUpdated`
 * shows in facets within `ttlMs`; hits carry their own, always current, names).
 */
export interface BylineNameCache {
  /** Names of `ids`: cached ones at once, the rest from `fetch` (then cached). */
  names(
    ids: readonly string[],
    fetch: (ids: string[]) => Promise<Map<string, string>>,
  ): Promise<Map<string, string>>;
}

export function createBylineNameCache(
  options: { ttlMs?: number; maxEntries?: number } = {},
): BylineNameCache {
  const ttlMs = options.ttlMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, { name: string; at: number }>();
  return {
    async names(ids, fetch) {
      const now = Date.now();
      const out = new Map<string, string>();
      const missing: string[] = [];
      for (const id of ids) {
        const entry = entries.get(id);
        if (entry && now - entry.at < ttlMs) out.set(id, entry.name);
        else missing.push(id);
      }
      if (missing.length === 0) return out;
      const fetched = await fetch(missing);
      // Bounded: a flood of distinct ids starts the cache over rather than growing it.
      if (entries.size + fetched.size > maxEntries) entries.clear();
      for (const [id, name] of fetched) {
        entries.set(id, { name, at: now });
        out.set(id, name);
      }
      return out;
    },
  };
}
