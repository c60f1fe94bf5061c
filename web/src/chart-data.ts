/**
 * Turns API replies into the column arrays uPlot draws. Pure (no DOM), so the gap and alert
 * rules are unit-tested without a browser. An empty bucket stays a null in every series: uPlot
 * then breaks the line and the band there instead of drawing across missing data.
 */
import type { ErrorBucket, WindowBucket, WindowsReply } from './types.js';

type Bucket = WindowsReply['buckets'][number];

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

type Filled = WindowBucket & { avg: number; min: number; max: number };

/** The API sends an empty bucket explicitly, with count 0 and null statistics. */
function isFilled(bucket: Bucket): bucket is Filled {
  return bucket.count > 0 && bucket.avg !== null && bucket.min !== null && bucket.max !== null;
}

/** Column arrays for the min/avg/max band, one entry per bucket of the reply. */
export function bandSeries(buckets: readonly Bucket[]): BandSeries {
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
    series.xs.push(Date.parse(bucket.start) / 1000);
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
