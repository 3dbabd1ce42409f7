import { performance } from 'node:perf_hooks';
import { formatTable } from '../commands/formatTable.ts';

/** One benchmark result: ours next to the ceiling measured in the same run. */
export interface Measurement {
  name: string;
  unit: string;
  ours: number;
  ceiling: number;
  /** ours / ceiling (higher is better for rates). */
  ratio: number;
  /** What the ceiling is and how the run was set up, for the human table only. */
  note?: string;
}

export function measurement(
  name: string,
  unit: string,
  ours: number,
  ceiling: number,
  note?: string,
): Measurement {
  // One decimal, or three significant digits below 1: a 0.04 s start-up must not print as 0.
  const round = (n: number) => (Math.abs(n) >= 1 ? Math.round(n * 10) / 10 : Number(n.toPrecision(3)));
  return {
    name,
    unit,
    ours: round(ours),
    ceiling: round(ceiling),
    ratio: ceiling > 0 ? Math.round((ours / ceiling) * 1000) / 1000 : 0,
    ...(note ? { note } : {}),
  };
}

/** The human table: name, unit, ours, ceiling, ratio (notes below). */
export function formatMeasurements(measurements: readonly Measurement[]): string {
  // Whole numbers from 100 up; below, one decimal (ratios like 10.1×), two below 1.
  const n = (v: number) =>
    Math.abs(v) >= 100 || Number.isInteger(v)
      ? Math.round(v).toLocaleString('en-US')
      : v.toFixed(Math.abs(v) >= 1 ? 1 : 2);
  const rows = measurements.map((m) => [m.name, m.unit, n(m.ours), n(m.ceiling), m.ratio.toFixed(2)]);
  const notes = measurements.filter((m) => m.note).map((m) => `  ${m.name}: ${m.note}`);
  return [
    formatTable([['NAME', 'UNIT', 'OURS', 'CEILING', 'RATIO'], ...rows]),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

/** `--json`: one object per line and measurement, `{"name","unit","ours","ceiling","ratio"}`. */
export function jsonLines(measurements: readonly Measurement[]): string {
  return measurements.map(({ note: _note, ...m }) => JSON.stringify(m)).join('\n');
}

/** Seconds since `start` (a `performance.now()`). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
