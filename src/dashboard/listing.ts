/**
 * The query parameters of the jobs and runs lists (search, filters, page), checked strictly: an
 * unknown parameter, a page that is not a whole number in range, a status that is not one of the
 * list's or an overlong search is a KairosValidationError (a 400 with its message), never
 * guessed at. The values reach SQL only as named query parameters.
 */
import { KairosValidationError, describeValue } from '../core/errors.js';
import { assertKnownKeys } from '../core/validate.js';
import { html, type Html } from './html.js';

/** Rows on one page of a list. */
export const PAGE_SIZE = 50;
/** Highest page number accepted (a bound on OFFSET, so a request cannot make the database skip forever). */
export const MAX_PAGE = 10_000;
/** Longest search text accepted. */
export const MAX_SEARCH = 200;

/** Statuses a list may be filtered by. */
export const JOB_STATUSES = ['enabled', 'disabled', 'failing', 'broken'] as const;
export const RUN_STATUSES = ['running', 'pending'] as const;

/** A list's checked filter: search text, status, page (1-based) and the extra filters by name. */
export interface Listing {
  search: string | null;
  status: string | null;
  page: number;
  extra: Record<string, string | null>;
}

/** The text of one parameter, trimmed (null when empty or absent); given twice is refused. */
function one(query: URLSearchParams, key: string): string | null {
  const all = query.getAll(key);
  if (all.length > 1) throw new KairosValidationError(key, `Expected \`${key}\` once in the query, got it ${all.length} times`);
  const value = all[0]?.trim() ?? '';
  return value === '' ? null : value;
}

/**
 * Check a list's query: `statuses` are the values `status` may take, `extra` the list's other
 * filters (each free text), `allowed` further keys tolerated and ignored here (e.g. notice).
 */
export function readListing(query: URLSearchParams, what: string, statuses: readonly string[], extra: readonly string[] = [], allowed: readonly string[] = []): Listing {
  const known = Object.fromEntries(['q', 'status', 'page', ...extra, ...allowed].map((k) => [k, true as const]));
  assertKnownKeys(Object.fromEntries([...query.keys()].map((k) => [k, ''])), known, `the ${what} list`);
  const search = one(query, 'q');
  if (search !== null && search.length > MAX_SEARCH) throw new KairosValidationError('q', `Expected the search \`q\` to be at most ${MAX_SEARCH} characters, got ${search.length}`);
  const status = one(query, 'status');
  if (status !== null && !statuses.includes(status)) throw new KairosValidationError('status', `Expected \`status\` to be one of ${statuses.join(', ')}, got ${describeValue(status)}`);
  const pageText = one(query, 'page') ?? '1';
  const page = /^\d{1,5}$/.test(pageText) ? Number(pageText) : NaN;
  if (!(page >= 1 && page <= MAX_PAGE)) throw new KairosValidationError('page', `Expected \`page\` to be a whole number from 1 to ${MAX_PAGE}, got ${describeValue(pageText)}`);
  const values: Record<string, string | null> = {};
  for (const key of extra) {
    const value = one(query, key);
    if (value !== null && value.length > MAX_SEARCH) throw new KairosValidationError(key, `Expected \`${key}\` to be at most ${MAX_SEARCH} characters, got ${value.length}`);
    values[key] = value;
  }
  return { search, status, page, extra: values };
}

/** The query string of a listing at another page (only the filters that are set). */
export function listingQuery(listing: Listing, page = listing.page): string {
  const params = new URLSearchParams();
  if (listing.search) params.set('q', listing.search);
  if (listing.status) params.set('status', listing.status);
  for (const [k, v] of Object.entries(listing.extra)) if (v) params.set(k, v);
  if (page > 1) params.set('page', String(page));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** "Page 2 of 7 · 321 jobs" with previous and next links (none when everything fits on one page). */
export function pager(href: string, listing: Listing, total: number, noun: string): Html {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const link = (page: number, label: string, rel: string): Html => html`<a class="button" rel="${rel}" href="${href}${listingQuery(listing, page)}">${label}</a>`;
  return html`<nav class="pager" aria-label="pages"><span class="muted">${total} ${noun} · page ${listing.page} of ${pages}</span>
${listing.page > 1 ? link(Math.min(listing.page - 1, pages), '← Previous', 'prev') : ''}${listing.page < pages ? link(listing.page + 1, 'Next →', 'next') : ''}</nav>`;
}
