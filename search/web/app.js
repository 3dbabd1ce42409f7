// The presslog search page: vanilla JS, no build step. All document text reaches the
// page through textContent; the only HTML parsed is a highlight, and that only after
// splitting it into escaped text and <mark> (see markedText).

const $ = (id) => document.getElementById(id);
const FILTERS = ['q', 'kind', 'sort', 'section', 'byline', 'from', 'to', 'asOf'];
const ARTICLE_ONLY = ['section', 'byline', 'from', 'to', 'asOf'];

const state = { next: null, loading: false, request: 0 };

/** Build an element; children are nodes or strings (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * A highlight from the API is the document's text escaped by Elasticsearch with matches
 * wrapped in <mark>. Rebuild it from text nodes and <mark> elements: whatever the text
 * says, it can only ever be text.
 */
function markedText(html) {
  const fragment = document.createDocumentFragment();
  let marked = false;
  for (const part of html.split(/(<\/?mark>)/)) {
    if (part === '<mark>') marked = true;
    else if (part === '</mark>') marked = false;
    else if (part) {
      const text = document.createTextNode(decodeEntities(part));
      fragment.append(marked ? el('mark', {}, text) : text);
    }
  }
  return fragment;
}

/** The query as typed, in quotes unless it brings its own. */
function quoted(q) {
  return q.includes('"') ? q : `“${q}”`;
}

function formatDate(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString('en-US', {
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    timeZone: 'UTC',
  });
}

/** An <img> that shows the placeholder (a tiny data: URI) until the real image has loaded. */
function progressiveImage(src, placeholder, attrs) {
  const img = el('img', { ...attrs, src: placeholder || undefined, dataset: { loaded: '0' } });
  if (src) {
    const loader = new Image();
    loader.onload = () => {
      img.src = src;
      img.dataset.loaded = '1';
    };
    loader.onerror = () => {
      img.dataset.loaded = 'error';
    };
    loader.src = src;
  }
  return img;
}

function paramsFromLocation() {
  return new URLSearchParams(location.search);
}

function showError(message) {
  const box = $('error');
  box.textContent = message || '';
  box.hidden = !message;
}

async function api(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? `${response.status} ${response.statusText}`;
    const error = new Error(message);
    // 410 Gone: the item was erased; the page says so, with the public note if there is one.
    if (response.status === 410 && body?.erased) error.erased = body.erased;
    throw error;
  }
  return body;
}

// ---- the search form ------------------------------------------------------

function fillForm(params) {
  for (const name of FILTERS) {
    const input = $(name);
    const value = params.get(name) ?? '';
    if (input.tagName === 'SELECT' && value && ![...input.options].some((o) => o.value === value)) {
      input.append(el('option', { value }, value));
    }
    input.value = value || (name === 'kind' ? 'article' : '');
  }
  syncKind();
}

function syncKind() {
  const images = $('kind').value === 'image';
  for (const label of document.querySelectorAll('.article-only')) {
    label.classList.toggle('disabled', images);
    for (const input of label.querySelectorAll('input, select')) input.disabled = images;
  }
}

function formParams() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const input = $(name);
    if (input.disabled) continue;
    const value = input.value.trim();
    if (value && !(name === 'kind' && value === 'article')) params.set(name, value);
  }
  return params;
}

function navigate(params) {
  const query = params.toString();
  history.pushState(null, '', query ? `/?${query}` : '/');
  route();
}

// ---- facets -----------------------------------------------------------------

function fillSelect(select, options, current) {
  const keep = select.value || current;
  select.replaceChildren(el('option', { value: '' }, 'Any'));
  for (const option of options) select.append(el('option', { value: option.value }, option.label));
  if (keep && ![...select.options].some((o) => o.value === keep))
    select.append(el('option', { value: keep }, keep));
  select.value = keep || '';
}

function renderFacets(facets, params) {
  const box = $('facets');
  box.replaceChildren();
  const active = ARTICLE_ONLY.filter((name) => params.get(name));
  if (active.length > 0) {
    box.append(
      el(
        'div',
        { class: 'chips' },
        active.map((name) =>
          el(
            'button',
            {
              class: 'chip',
              type: 'button',
              title: `remove ${name} filter`,
              onclick: () => {
                const next = new URLSearchParams(params);
                next.delete(name);
                navigate(next);
              },
            },
            `${name}: ${params.get(name)} ×`,
          ),
        ),
      ),
    );
  }
  if (!facets) return;
  const group = (title, name, entries) => {
    if (entries.length === 0) return;
    box.append(el('h3', {}, title));
    box.append(
      el(
        'ul',
        { dataset: { facet: name } },
        entries.map((entry) =>
          el(
            'li',
            { class: params.get(name) === String(entry.value) ? 'active' : undefined },
            el(
              'button',
              {
                type: 'button',
                onclick: () => {
                  const next = new URLSearchParams(params);
                  if (name === 'year') {
                    next.set('from', String(entry.value));
                    next.set('to', String(entry.value));
                  } else next.set(name, String(entry.value));
                  next.delete('after');
                  navigate(next);
                },
              },
              el('span', { class: 'label' }, entry.label),
              el('span', { class: 'count' }, entry.count.toLocaleString('en-US')),
            ),
          ),
        ),
      ),
    );
  };
  const sections = facets.sections.map((s) => ({ value: s.value, label: s.value, count: s.count }));
  const bylines = facets.bylines.map((b) => ({ value: b.id, label: b.name ?? b.id, count: b.count }));
  const years = facets.years.map((y) => ({ value: y.value, label: String(y.value), count: y.count }));
  group('Sections', 'section', sections);
  group('Bylines', 'byline', bylines);
  group('Years', 'year', years);
  fillSelect($('section'), sections, params.get('section'));
  fillSelect($('byline'), bylines, params.get('byline'));
}

// ---- the timeline -----------------------------------------------------------

/** Hits per year or decade as bars; a click filters to that period. */
function renderTimeline(timeline, params) {
  const box = $('timeline');
  const bars = $('timeline-bars');
  bars.replaceChildren();
  if (!timeline || timeline.buckets.length < 2) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const most = Math.max(...timeline.buckets.map((b) => b.count));
  for (const bucket of timeline.buckets) {
    const period = bucket.from === bucket.to ? String(bucket.from) : `${bucket.from}s`;
    const label = `${period}: ${bucket.count.toLocaleString('en-US')}`;
    const bar = el('button', {
      type: 'button',
      class: bucket.count === 0 ? 'empty' : undefined,
      title: label,
      'aria-label': label,
      dataset: { from: bucket.from, to: bucket.to, count: bucket.count },
      onclick: () => {
        const next = new URLSearchParams(params);
        next.set('from', String(bucket.from));
        next.set('to', String(bucket.to));
        next.delete('after');
        navigate(next);
      },
    });
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    bar.style.height = `${bucket.count === 0 ? 1 : Math.max(4, Math.round((bucket.count / most) * 100))}%`;
    bars.append(bar);
  }
  const first = timeline.buckets[0].from;
  const last = timeline.buckets.at(-1).to;
  $('timeline-caption').textContent =
    `Results by ${timeline.interval}, ${first}–${last}. Click a bar to see only that ${timeline.interval}.`;
}

// ---- archives ---------------------------------------------------------------

async function loadArchives() {
  try {
    const { archives } = await api('/api/archives');
    const current = paramsFromLocation().get('asOf') ?? '';
    const options = archives
      .filter((a) => a.projection === 'articles')
      .map((a) => ({ value: a.index, label: a.asOf ? `as of ${formatDate(a.asOf)}` : a.index }));
    const select = $('asOf');
    select.replaceChildren(el('option', { value: '' }, 'Live'));
    for (const option of options) select.append(el('option', { value: option.value }, option.label));
    if (current && !options.some((o) => o.value === current))
      select.append(el('option', { value: current }, current));
    select.value = current;
  } catch {
    // Without the list the page still searches the live archive.
  }
}

// ---- suggestions as you type -------------------------------------------------

const suggest = { timer: 0, request: 0, items: [], active: -1 };
const SUGGEST_DELAY_MS = 150;

function closeSuggestions() {
  suggest.items = [];
  suggest.active = -1;
  $('suggestions').replaceChildren();
  $('suggestions').hidden = true;
  $('q').setAttribute('aria-expanded', 'false');
  $('q').removeAttribute('aria-activedescendant');
}

function chooseSuggestion(item) {
  closeSuggestions();
  if (item.kind === 'headline') {
    const href = `/?article=${encodeURIComponent(item.id)}`;
    history.pushState({ from: location.search }, '', href);
    route();
  } else {
    const next = new URLSearchParams();
    next.set('byline', item.id);
    navigate(next);
  }
}

function highlightSuggestion(index) {
  suggest.active = index;
  const options = [...$('suggestions').children];
  for (const [i, option] of options.entries()) option.setAttribute('aria-selected', String(i === index));
  if (index >= 0) $('q').setAttribute('aria-activedescendant', options[index].id);
  else $('q').removeAttribute('aria-activedescendant');
}

function renderSuggestions(result) {
  suggest.items = [
    ...result.bylines.map((b) => ({ kind: 'byline', id: b.id, label: b.name })),
    ...result.headlines.map((h) => ({ kind: 'headline', id: h.id, label: h.headline })),
  ];
  suggest.active = -1;
  const list = $('suggestions');
  list.replaceChildren(
    ...suggest.items.map((item, i) =>
      el(
        'div',
        {
          id: `suggestion-${i}`,
          role: 'option',
          'aria-selected': 'false',
          dataset: { kind: item.kind, id: item.id },
          // mousedown, not click: it comes before the input's blur closes the list.
          onmousedown: (event) => {
            event.preventDefault();
            chooseSuggestion(item);
          },
        },
        el('span', { class: 'kind' }, item.kind === 'byline' ? 'Byline' : 'Article'),
        item.label,
      ),
    ),
  );
  list.hidden = suggest.items.length === 0;
  $('q').setAttribute('aria-expanded', String(!list.hidden));
}

function onQueryInput() {
  clearTimeout(suggest.timer);
  const text = $('q').value;
  if (text.trim().length < 2 || text.length > 100) {
    suggest.request++;
    closeSuggestions();
    return;
  }
  suggest.timer = setTimeout(async () => {
    const mine = ++suggest.request;
    try {
      const result = await api(`/api/suggest?${new URLSearchParams({ q: text })}`);
      if (mine === suggest.request && document.activeElement === $('q')) renderSuggestions(result);
    } catch {
      if (mine === suggest.request) closeSuggestions();
    }
  }, SUGGEST_DELAY_MS);
}

function onQueryKey(event) {
  const open = !$('suggestions').hidden && suggest.items.length > 0;
  if (!open) return;
  const count = suggest.items.length;
  if (event.key === 'ArrowDown') {
    event.preventDefault();
    highlightSuggestion((suggest.active + 1) % count);
  } else if (event.key === 'ArrowUp') {
    event.preventDefault();
    highlightSuggestion(suggest.active <= 0 ? count - 1 : suggest.active - 1);
  } else if (event.key === 'Enter' && suggest.active >= 0) {
    event.preventDefault();
    chooseSuggestion(suggest.items[suggest.active]);
  } else if (event.key === 'Escape') {
    event.preventDefault();
    suggest.request++;
    closeSuggestions();
  }
}

// ---- results ----------------------------------------------------------------

function articleLink(id, children) {
  const href = `/?article=${encodeURIComponent(id)}`;
  return el(
    'a',
    {
      href,
      onclick: (event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        history.pushState({ from: location.search }, '', href);
        route();
      },
    },
    children,
  );
}

/** A field's highlight as marked text, or its plain value when the search did not match it. */
function marked(highlight, plain) {
  return highlight?.[0] ? markedText(highlight[0]) : plain;
}

function renderHit(hit) {
  const image = hit.images.find((i) => i.thumbnail) ?? hit.images[0];
  // An image hit's headline is its caption: the caption highlight is its marked title.
  const headline =
    hit.highlights.headline?.[0] ?? (hit.kind === 'image' ? hit.highlights.captions?.[0] : undefined);
  const title = headline ? markedText(headline) : hit.headline;
  const meta = [
    formatDate(hit.publishedAt),
    hit.bylines.map((b) => b.name ?? b.id).join(', '),
    hit.section,
    // An image hit: who took it and what it shows, from the record or the file's metadata
    // (credit and creator marked when the search matched them).
    hit.kind === 'image' && image?.credit && marked(hit.highlights.credit, image.credit),
    hit.kind === 'image' && image?.creator && ['Photo: ', marked(hit.highlights.creator, image.creator)],
    hit.kind === 'image' && image?.keywords?.length && `keywords: ${image.keywords.join(', ')}`,
  ].filter(Boolean);
  const snippets = (hit.highlights.body ?? []).map((h) =>
    el('p', { class: 'snippet' }, markedText(`${h} …`)),
  );
  const captions = (hit.kind === 'image' ? [] : (hit.highlights.captions ?? [])).map((h) =>
    el('p', { class: 'caption' }, 'Image: ', markedText(h)),
  );
  const target = hit.kind === 'image' ? hit.articleIds?.[0] : hit.id;
  return el(
    'li',
    { class: `result${image ? '' : ' no-image'}`, dataset: { id: hit.id, kind: hit.kind } },
    image
      ? progressiveImage(image.thumbnail, image.placeholder, {
          class: 'thumb',
          alt: image.caption ?? '',
          loading: 'lazy',
        })
      : null,
    el(
      'div',
      {},
      el('h2', {}, target ? articleLink(target, title) : title),
      meta.length
        ? el(
            'p',
            { class: 'meta' },
            meta.flatMap((m, i) => (i ? [' · ', m] : [m])),
          )
        : null,
      snippets,
      captions,
      hit.kind === 'image' && hit.articleIds?.length
        ? el(
            'p',
            { class: 'meta' },
            `Used in ${hit.articleIds.length} article${hit.articleIds.length === 1 ? '' : 's'}`,
          )
        : null,
    ),
  );
}

async function runSearch(params, append) {
  const mine = ++state.request;
  state.loading = true;
  $('more').disabled = true;
  const query = new URLSearchParams(params);
  query.delete('article');
  if (append && state.next) query.set('after', state.next);
  query.set('size', '10');
  try {
    const result = await api(`/api/search?${query}`);
    if (mine !== state.request) return;
    showError('');
    if (!append) {
      $('results').replaceChildren();
      renderFacets(result.facets, params);
      renderTimeline(result.timeline, params);
      const what = params.get('kind') === 'image' ? 'image' : 'article';
      $('summary').textContent =
        `${result.total.toLocaleString('en-US')} ${what}${result.total === 1 ? '' : 's'}` +
        (params.get('q') ? ` for ${quoted(params.get('q'))}` : '');
    }
    $('results').append(...result.hits.map(renderHit));
    state.next = result.next;
    $('more').hidden = !result.next;
  } catch (err) {
    if (mine !== state.request) return;
    showError(err.message);
    if (!append) {
      $('results').replaceChildren();
      $('summary').textContent = '';
      $('timeline').hidden = true;
    }
  } finally {
    if (mine === state.request) {
      state.loading = false;
      $('more').disabled = false;
    }
  }
}

// ---- the article view ------------------------------------------------------

/**
 * Paragraphs of a body: its own line breaks, or, for a text without any (the State of the
 * Union transcripts are one line each), groups of sentences of a readable length.
 */
function paragraphsOf(body) {
  const lines = body.split(/\n\s*\n|\n/).filter((p) => p.trim());
  if (lines.length > 1 || body.length < 1200) return lines;
  const sentences = body.match(/[^.!?]+[.!?]+["')\]]*\s*|[^.!?]+$/g) ?? [body];
  const out = [];
  let current = '';
  for (const sentence of sentences) {
    current += sentence;
    if (current.length >= 700) {
      out.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

const MARKUP_TAGS = new Set(
  'p h2 h3 h4 h5 h6 ul ol li dl dt dd em strong b i u s sub sup q cite abbr code pre br hr a blockquote figure figcaption table caption thead tbody tfoot tr th td'.split(
    ' ',
  ),
);
const MARKUP_ATTRS = {
  a: ['href', 'title'],
  abbr: ['title'],
  ol: ['start'],
  th: ['colspan', 'rowspan', 'scope'],
  td: ['colspan', 'rowspan'],
};

/**
 * The article's markup (sanitized at ingest) as DOM nodes, built again element by element
 * from an allow-list. The string is parsed in a <template>, whose content is inert (no
 * script runs, nothing loads, no handler fires), and only listed tags and attributes are
 * copied into the page, links only to http(s) and mailto; anything else is left out, its
 * text kept.
 */
function markupNodes(html) {
  const parsed = document.createElement('template');
  parsed.innerHTML = html;
  const copy = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return [document.createTextNode(node.data)];
    if (node.nodeType !== Node.ELEMENT_NODE) return [];
    const tag = node.localName;
    if (tag === 'script' || tag === 'style' || tag === 'template') return [];
    const children = [...node.childNodes].flatMap(copy);
    if (!MARKUP_TAGS.has(tag)) return children;
    const href = tag === 'a' ? node.getAttribute('href')?.trim() : undefined;
    // A link without a usable target is its text alone.
    if (tag === 'a' && !(href && /^(https?:|mailto:)/i.test(href))) return children;
    const out = document.createElement(tag);
    for (const name of MARKUP_ATTRS[tag] ?? []) {
      const value = node.getAttribute(name);
      if (value === null) continue;
      if (name === 'href' && !/^(https?:|mailto:)/i.test(value.trim())) continue;
      out.setAttribute(name, value);
    }
    if (tag === 'a') out.rel = 'noopener noreferrer nofollow';
    out.append(...children);
    return [out];
  };
  return [...parsed.content.childNodes].flatMap(copy);
}

function bestRendition(renditions, maxWidth) {
  const fitting = renditions.filter((r) => r.width <= maxWidth).sort((a, b) => b.width - a.width);
  return fitting[0] ?? [...renditions].sort((a, b) => a.width - b.width)[0];
}

function describeEvent(entry) {
  const p = entry.payload;
  switch (entry.type) {
    case 'ArticlePublished':
      return `published “${p.headline}”`;
    case 'ArticleRevised':
      return entry.changed.length
        ? `revised: ${entry.changed.join(', ')} changed`
        : 'revised (no field changed)';
    case 'ArticleRetracted':
      return `retracted${p.reason ? `: ${p.reason}` : ''}`;
    default:
      return entry.type;
  }
}

async function showArticle(id) {
  $('results-view').hidden = true;
  $('article-view').hidden = false;
  $('article-headline').textContent = 'Loading…';
  for (const part of ['article-meta', 'article-images', 'article-body', 'history', 'related'])
    $(part).replaceChildren();
  const mine = ++state.request;
  const [doc, history, related] = await Promise.allSettled([
    api(`/api/articles/${encodeURIComponent(id)}`),
    api(`/api/articles/${encodeURIComponent(id)}/history`),
    api(`/api/articles/${encodeURIComponent(id)}/related?size=5`),
  ]);
  if (mine !== state.request) return;
  if (doc.status === 'rejected' && doc.reason.erased) {
    const { at, publicNote } = doc.reason.erased;
    $('article-headline').textContent = 'This article was removed';
    $('article-meta').textContent = `Removed ${formatDate(at)}${publicNote ? `: ${publicNote}` : ''}`;
    showError('');
  } else if (doc.status === 'rejected') {
    $('article-headline').textContent = 'Article not available';
    showError(doc.reason.message);
  } else {
    showError('');
    const article = doc.value;
    document.title = `${article.headline} — presslog`;
    $('article-headline').textContent = article.headline;
    $('article-meta').textContent = [
      formatDate(article.publishedAt),
      article.bylines.map((b) => b.name ?? b.id).join(', '),
      article.section,
      article.tags.length ? `tags: ${article.tags.join(', ')}` : '',
      `revision ${article.revisions}`,
    ]
      .filter(Boolean)
      .join(' · ');
    for (const image of article.images) {
      const rendition = bestRendition(image.renditions ?? [], 720);
      if (!rendition && !image.caption && !image.creator) continue;
      $('article-images').append(
        el(
          'figure',
          {},
          rendition
            ? progressiveImage(`/renditions/${rendition.digest}`, image.placeholder, {
                alt: image.caption ?? '',
                width: rendition.width,
                height: rendition.height,
              })
            : null,
          el(
            'figcaption',
            {},
            [image.caption, image.credit && `(${image.credit})`].filter(Boolean).join(' '),
            image.creator ? el('span', { class: 'creator' }, ` Photo: ${image.creator}`) : null,
            image.keywords?.length
              ? el('span', { class: 'keywords' }, ` · keywords: ${image.keywords.join(', ')}`)
              : null,
          ),
        ),
      );
    }
    if (article.bodyHtml) $('article-body').append(...markupNodes(article.bodyHtml));
    else $('article-body').append(...paragraphsOf(article.body).map((p) => el('p', {}, p)));
  }
  if (related.status === 'fulfilled') {
    $('related').append(
      ...related.value.hits.map((hit) =>
        el(
          'li',
          { dataset: { id: hit.id } },
          articleLink(hit.id, hit.headline),
          el('span', { class: 'meta' }, ` · ${formatDate(hit.publishedAt)}`),
        ),
      ),
    );
  }
  if (history.status === 'fulfilled') {
    $('history').append(
      ...history.value.events.map((entry) =>
        el(
          'li',
          { dataset: { seq: entry.seq, type: entry.type } },
          el('span', { class: 'type' }, entry.type),
          ` — ${describeEvent(entry)}`,
          el(
            'div',
            { class: 'meta' },
            `log sequence ${entry.seq} · occurred ${formatDate(entry.occurredAt)} · recorded ${new Date(entry.storedAt).toLocaleString('en-US', { timeZone: 'UTC' })} UTC · ${entry.source}`,
          ),
        ),
      ),
    );
  } else {
    $('history').append(el('li', {}, `History not available: ${history.reason.message}`));
  }
}

// ---- routing --------------------------------------------------------------

function route() {
  const params = paramsFromLocation();
  const article = params.get('article');
  if (article) {
    showArticle(article);
    return;
  }
  document.title = 'presslog — search the archive';
  $('article-view').hidden = true;
  $('results-view').hidden = false;
  fillForm(params);
  state.next = null;
  runSearch(params, false);
}

$('search').addEventListener('submit', (event) => {
  event.preventDefault();
  suggest.request++;
  clearTimeout(suggest.timer);
  closeSuggestions();
  navigate(formParams());
});
$('q').addEventListener('input', onQueryInput);
$('q').addEventListener('keydown', onQueryKey);
$('q').addEventListener('blur', () => closeSuggestions());
$('asOf').addEventListener('change', () => navigate(formParams()));
$('kind').addEventListener('change', () => {
  syncKind();
  navigate(formParams());
});
for (const name of ['sort', 'section', 'byline'])
  $(name).addEventListener('change', () => navigate(formParams()));
$('more').addEventListener('click', () => {
  if (!state.loading && state.next) runSearch(paramsFromLocation(), true);
});
$('back').addEventListener('click', (event) => {
  event.preventDefault();
  if (history.state?.from !== undefined) history.back();
  else navigate(new URLSearchParams());
});
window.addEventListener('popstate', route);
loadArchives();
route();
