import { describe, expect, it } from "vitest";
import type { DayAmounts } from "./generated";
import { extent, layoutBars, ratio } from "./chart";

const usd = (minor: string) => ({ minor, currency: "USD", exponent: 2 });
const day = (d: string, gateway: string, ledger: string): DayAmounts => ({ day: d, gateway: usd(gateway), ledger: usd(ledger) });

describe("the chart's bars", () => {
  it("scale to the largest amount, from the bottom when nothing is negative", () => {
    const { baseline, bars } = layoutBars([day("2026-10-01", "10000", "5000"), day("2026-10-02", "0", "0")], 100);
    expect(baseline).toBe(100);
    expect(bars[0].gateway).toEqual({ y: 0, height: 100, negative: false });
    expect(bars[0].ledger).toEqual({ y: 50, height: 50, negative: false });
    expect(bars[1].gateway.height).toBe(0);
    expect(bars[0].differs).toBe(true);
    expect(bars[1].differs).toBe(false);
  });

  it("draw a refund day below a middle baseline", () => {
    const { baseline, bars } = layoutBars([day("2026-10-01", "4900", "4900"), day("2026-10-02", "-4900", "0")], 100);
    expect(baseline).toBe(50);
    expect(bars[1].gateway).toEqual({ y: 50, height: 50, negative: true });
  });

  it("keep one cent visible beside a fortune", () => {
    const { bars } = layoutBars([day("2026-10-01", "100000000000", "1")], 200);
    expect(bars[0].ledger.height).toBe(1);
  });

  it("compare amounts beyond 2^53 exactly: they differ by one minor unit", () => {
    const big = "9007199254740993";
    const bigger = "9007199254740994";
    expect(extent([day("d", big, bigger)]).max).toBe(9007199254740994n);
    expect(layoutBars([day("d", big, bigger)], 100).bars[0].differs).toBe(true);
    expect(ratio(9007199254740993n, 9007199254740994n)).toBeCloseTo(1, 5);
  });
});
