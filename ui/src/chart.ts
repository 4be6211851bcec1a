// The gateway-vs-ledger chart's geometry. The data stay exact minor units (strings, as
// the core sends them); only here, to place bars on a screen, are they turned into
// numbers, relative to the largest magnitude in the series — a pixel needs no more than a
// few digits of precision, an amount needs all of them (the labels use money.ts).
import type { DayAmounts } from "./generated";

export interface Bar {
  /** Top edge in pixels from the chart's top. */
  y: number;
  /** Height in pixels (at least 1 for any non-zero amount, so a cent is visible). */
  height: number;
  negative: boolean;
}

export interface DayBars {
  day: string;
  gateway: Bar;
  ledger: Bar;
  differs: boolean;
}

const abs = (v: bigint) => (v < 0n ? -v : v);

/** Largest magnitude on either side, and whether any value is negative (a refund day). */
export function extent(days: DayAmounts[]): { max: bigint; anyNegative: boolean } {
  let max = 0n;
  let anyNegative = false;
  for (const d of days) {
    for (const v of [BigInt(d.gateway.minor), BigInt(d.ledger.minor)]) {
      if (abs(v) > max) max = abs(v);
      if (v < 0n) anyNegative = true;
    }
  }
  return { max, anyNegative };
}

/** value / max as a number in [-1, 1], from BigInts scaled to keep 6 significant digits. */
export function ratio(value: bigint, max: bigint): number {
  if (max === 0n) return 0;
  const scale = 1_000_000n;
  return Number((value * scale) / max) / Number(scale);
}

/**
 * Bars for each day in a plot `height` pixels tall. With negative values the baseline sits
 * in the middle (money leaving below it); otherwise at the bottom.
 */
export function layoutBars(days: DayAmounts[], height: number): { baseline: number; bars: DayBars[] } {
  const { max, anyNegative } = extent(days);
  const baseline = anyNegative ? height / 2 : height;
  const room = anyNegative ? height / 2 : height;
  const bar = (minor: string): Bar => {
    const v = BigInt(minor);
    const r = ratio(v, max);
    let h = Math.abs(r) * room;
    if (v !== 0n && h < 1) h = 1;
    return v < 0n ? { y: baseline, height: h, negative: true } : { y: baseline - h, height: h, negative: false };
  };
  return {
    baseline,
    bars: days.map((d) => ({
      day: d.day,
      gateway: bar(d.gateway.minor),
      ledger: bar(d.ledger.minor),
      differs: d.gateway.minor !== d.ledger.minor,
    })),
  };
}
