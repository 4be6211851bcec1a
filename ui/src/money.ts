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

function groupDigits(digits: string, group: string): string {
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += group;
    out += digits[i];
  }
  return out;
}

/** "-1234567" with exponent 2 → "-12,345.67" (in en); never rounded. */
export function formatMinor(minor: string, exponent: number, locale?: string): string {
  const value = BigInt(minor); // throws on anything that is not an integer
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  const sep = separators(locale);
  const text = groupDigits(whole, sep.group) + (exponent > 0 ? sep.decimal + fraction : "");
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
