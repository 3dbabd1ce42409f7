import { InvalidQueryError } from './errors.ts';

const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?$/;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function utc(year: number, month: number, day: number, h = 0, m = 0, s = 0, ms = 0): Date {
  const d = new Date(Date.UTC(2000, month - 1, day, h, m, s, ms));
  // Date.UTC maps years 0-99 to 1900-1999; set the year explicitly.
  d.setUTCFullYear(year);
  return d;
}

/**
 * Parse an ISO 8601 date or date-time (`1861`, `1861-03`, `1861-03-04`,
 * `1861-03-04T12:00:00Z`) into the instant that starts (`edge: 'start'`) or ends
 * (`edge: 'end'`) the period it names, so `to=1865` includes the whole of 1865. A
 * date-time without a zone is refused, as ingest refuses it. Impossible dates
 * (2021-02-30) are refused.
 */
export function parseDateBound(
  value: string,
  edge: 'start' | 'end',
  parameter = edge === 'start' ? 'from' : 'to',
): string {
  const match = DATE.exec(value.trim());
  const bad = () =>
    new InvalidQueryError(
      parameter,
      `not an ISO 8601 date: ${JSON.stringify(value.slice(0, 40))} (use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)`,
    );
  if (!match) throw bad();
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const year = Number(y);
  if (year < 1) throw bad();
  if (mo === undefined) {
    return (edge === 'start' ? utc(year, 1, 1) : utc(year, 12, 31, 23, 59, 59, 999)).toISOString();
  }
  const month = Number(mo);
  if (month < 1 || month > 12) throw bad();
  const last = monthLength(year, month);
  if (d === undefined) {
    return (edge === 'start' ? utc(year, month, 1) : utc(year, month, last, 23, 59, 59, 999)).toISOString();
  }
  const day = Number(d);
  if (day < 1 || day > last) throw bad();
  if (h === undefined) {
    return (edge === 'start' ? utc(year, month, day) : utc(year, month, day, 23, 59, 59, 999)).toISOString();
  }
  if (zone === undefined) {
    // The same rule as ingest (ingest/records.ts): a time without a zone would silently
    // mean some machine's local time.
    throw new InvalidQueryError(
      parameter,
      `${JSON.stringify(value.slice(0, 40))} has a time but no zone: add Z or an offset such as +01:00 (or give a bare date)`,
    );
  }
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (hour > 23 || minute > 59 || second > 59) throw bad();
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  let instant = utc(year, month, day, hour, minute, second, ms).getTime();
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = Number(digits.slice(2, 4));
    if (offsetHours > 23 || offsetMinutes > 59) throw bad();
    instant -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  // Without seconds, `to=...T12:30` means up to the end of that minute.
  if (edge === 'end' && s === undefined) instant += 59_999;
  else if (edge === 'end' && frac === undefined) instant += 999;
  return new Date(instant).toISOString();
}

function monthLength(year: number, month: number): number {
  const lengths = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return lengths[month - 1] ?? 31;
}
