// Money on screen: exact, from minor units and the currency's exponent, with string and
// BigInt arithmetic only. A JavaScript number never holds an amount here (it would round
// above 2^53 and cannot hold 0.1 exactly); the locale only lends its separators.
import type { Amount } from "./generated";

export interface Separators {
  group: string;
  decimal: string;
}

/** The locale's digit-group and decimal separators (read from a formatted sample). */
export function separators(locale: string | undefined): Separators {
  let group = ",";
  let decimal = ".";
  // 12345.5 is exact in binary floating point; only its separators are used.
  for (const part of new Intl.NumberFormat(locale).formatToParts(12345.5)) {
    if (part.type === "group") group = part.value;
    if (part.type === "decimal") decimal = part.value;
  }
  return { group, decimal };
}

/**
 * The whole units grouped as the locale groups them (thousands in en-US, lakh and crore
 * in en-IN). Intl formats a BigInt exactly, digit for digit, so nothing is rounded.
 */
function groupWhole(digits: string, locale: string | undefined): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(BigInt(digits));
}

/** "-1234567" with exponent 2 → "-12,345.67" in en-US; "123456789000" → "1,23,45,67,890.00" in en-IN; never rounded. */
export function formatMinor(minor: string, exponent: number, locale?: string): string {
  const value = BigInt(minor); // throws on anything that is not an integer
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  const sep = separators(locale);
  const text = groupWhole(whole, locale) + (exponent > 0 ? sep.decimal + fraction : "");
  return (negative ? "-" : "") + text;
}

/** An amount with its currency, always: "45.00 EUR", "12,000 JPY", "12.500 KWD". */
export function formatAmount(amount: Amount, locale?: string): string {
  return `${formatMinor(amount.minor, amount.exponent, locale)} ${amount.currency}`;
}

/** Amounts of several currencies side by side; never added together. */
export function formatAmounts(amounts: Amount[], locale?: string): string {
  if (amounts.length === 0) return "—";
  return amounts.map((a) => formatAmount(a, locale)).join(" · ");
}
