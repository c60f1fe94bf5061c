/**
 * Turns API replies into the column arrays uPlot draws. Pure (no DOM), so the gap and alert
 * rules are unit-tested without a browser. An empty bucket stays a null in every series: uPlot
 * then breaks the line and the band there instead of drawing across missing data.
 */
import type { ErrorBucket, WindowBucket, WindowsReply } from './types.js';

type Bucket = WindowsReply['buckets'][number] | null;

export interface BandSeries {
  /** Bucket starts, in seconds (uPlot's x unit). */
  xs: number[];
  min: (number | null)[];
  avg: (number | null)[];
  max: (number | null)[];
  /** The bucket's max where it held a high alert reading, else null: drawn as markers. */
  high: (number | null)[];
  /** The bucket's min where it held a low alert reading, else null. */
  low: (number | null)[];
  /** Buckets with data, and empty buckets (gaps). */
  points: number;
  gaps: number;
  /** Index of the still-open bucket computed from raw readings, or -1. */
  partialIndex: number;
}

function isFilled(bucket: Bucket): bucket is WindowBucket {
  return bucket !== null && !('empty' in bucket) && typeof bucket.avg === 'number';
}

/**
 * Column arrays for the min/avg/max band. A bucket whose start is missing (a bare null entry)
 * gets `from + index * step`, as the API aligns buckets to the step from `from`.
 */
export function bandSeries(buckets: readonly Bucket[], fromMs: number, stepMs: number): BandSeries {
  const series: BandSeries = {
    xs: [],
    min: [],
    avg: [],
    max: [],
    high: [],
    low: [],
    points: 0,
    gaps: 0,
    partialIndex: -1,
  };
  buckets.forEach((bucket, index) => {
    const start = bucket?.start ? Date.parse(bucket.start) : fromMs + index * stepMs;
    series.xs.push(start / 1000);
    if (!isFilled(bucket)) {
      series.gaps++;
      for (const column of [series.min, series.avg, series.max, series.high, series.low]) column.push(null);
      return;
    }
    series.points++;
    series.min.push(bucket.min);
    series.avg.push(bucket.avg);
    series.max.push(bucket.max);
    series.high.push(bucket.highAlertCount > 0 ? bucket.max : null);
    series.low.push(bucket.lowAlertCount > 0 ? bucket.min : null);
    if (bucket.partial) series.partialIndex = index;
  });
  return series;
}

export interface ErrorSeries {
  xs: number[];
  types: string[];
  counts: number[][];
  total: number;
}

/** One count column per error type (types sorted by name, so colours stay put between refreshes). */
export function errorSeries(buckets: readonly ErrorBucket[]): ErrorSeries {
  const types = [...new Set(buckets.flatMap((b) => Object.keys(b.counts ?? {})))].sort();
  const counts = types.map((type) => buckets.map((b) => b.counts?.[type] ?? 0));
  const total = counts.reduce((sum, column) => sum + column.reduce((a, b) => a + b, 0), 0);
  return { xs: buckets.map((b) => Date.parse(b.start) / 1000), types, counts, total };
}
