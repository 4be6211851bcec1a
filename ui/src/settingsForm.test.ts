import { describe, expect, it } from "vitest";
import { KEY_SOURCE_WORDS, personProblem, zoneSuggestions } from "./settingsForm";

describe("the Settings forms", () => {
  it("add a person only with a name and the same passphrase twice", () => {
    expect(personProblem(" ", "a passphrase", "a passphrase")).toBe("Type the person's name.");
    expect(personProblem("kim", "", "")).toBe("Type a passphrase for them.");
    expect(personProblem("kim", "correct horse", "correct hose")).toBe("The two passphrases differ; type them again.");
    expect(personProblem("kim", "correct horse", "correct horse")).toBeNull();
  });

  it("say where the key is kept, never which key", () => {
    for (const words of Object.values(KEY_SOURCE_WORDS)) expect(words).not.toMatch(/sk_/);
    expect(KEY_SOURCE_WORDS.keyring).toContain("never shown again");
  });

  it("suggest IANA zones where the browser lists them", () => {
    const zones = zoneSuggestions();
    if (zones.length > 0) expect(zones).toContain("Europe/Berlin");
  });
});
