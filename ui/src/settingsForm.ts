// The Settings screen's form rules that are the window's own (what the core decides —
// a valid key, zone or threshold, who may change it — it decides and says): a passphrase
// typed twice alike, and the words for where the gateway key is kept.
import type { KeySource } from "./generated";

export const KEY_SOURCE_WORDS: Record<KeySource, string> = {
  none: "No gateway is connected.",
  keyring: "The secret key is kept in this computer's keyring. It is never shown again; to change it, connect again.",
  environment: "The secret key comes from CHARGEGUARD_API_KEY in Chargeguard's environment; nothing is kept in the keyring.",
  app: "The demo's sandbox gateway runs inside the app with its own test key; no real money moves.",
};

/** Why the new person cannot be added yet, or null. */
export function personProblem(name: string, passphrase: string, again: string): string | null {
  if (name.trim() === "") return "Type the person's name.";
  if (passphrase === "") return "Type a passphrase for them.";
  if (passphrase !== again) return "The two passphrases differ; type them again.";
  return null;
}

/** Every IANA zone the browser knows, for the zone field's suggestions (the core checks). */
export function zoneSuggestions(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.("timeZone") ?? [];
  } catch {
    return [];
  }
}
