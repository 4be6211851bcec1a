import { describe, expect, it } from "vitest";
import { formatAmount, formatAmounts, formatMinor } from "./money";

describe("formatMinor", () => {
  it.each([
    ["usd cents", "4500", 2, "en-US", "45.00"],
    ["zero decimals yen", "12000", 0, "en-US", "12,000"],
    ["three decimals dinar", "12500", 3, "en-US", "12.500"],
    ["less than one unit", "5", 2, "en-US", "0.05"],
    ["negative", "-123456", 2, "en-US", "-1,234.56"],
    ["german separators", "123456789", 2, "de-DE", "1.234.567,89"],
    ["indian lakh and crore grouping", "1234567890", 2, "en-IN", "1,23,45,678.90"],
    ["indian grouping of yen", "12345678", 0, "en-IN", "1,23,45,678"],
    ["indian grouping beyond 2^53", "9223372036854775807", 2, "en-IN", "92,23,37,20,36,85,47,758.07"],
    // 2^63 - 1 cents: a JavaScript number would print 92233720368547760.00.
    ["beyond 2^53, not rounded", "9223372036854775807", 2, "en-US", "92,233,720,368,547,758.07"],
  ])("%s", (_name, minor, exponent, locale, expected) => {
    expect(formatMinor(minor, exponent, locale)).toBe(expected);
  });

  it("refuses a minor amount that is not an integer", () => {
    expect(() => formatMinor("12.5", 2, "en-US")).toThrow();
  });
});

describe("formatAmount", () => {
  it("always names the currency", () => {
    expect(formatAmount({ minor: "4500", currency: "EUR", exponent: 2 }, "en-US")).toBe("45.00 EUR");
  });
  it("keeps currencies apart", () => {
    expect(
      formatAmounts(
        [
          { minor: "9000", currency: "EUR", exponent: 2 },
          { minor: "12000", currency: "JPY", exponent: 0 },
        ],
        "en-US",
      ),
    ).toBe("90.00 EUR · 12,000 JPY");
    expect(formatAmounts([], "en-US")).toBe("—");
  });
});
