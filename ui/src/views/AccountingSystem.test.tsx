import { describe, expect, it } from "vitest";
import { connectRequest } from "./AccountingSystem";

const fields = {
  clientId: "  cg-desktop ",
  clientSecret: "s3cret",
  redirectUri: "",
  tenant: "Bedrock Ltd",
  base: " ",
};

describe("The accounting system's connect form", () => {
  it("sends QuickBooks its client secret, and leaves blanks to the core's defaults", () => {
    expect(connectRequest({ system: "quickbooks", ...fields })).toEqual({
      system: "quickbooks",
      client_id: "cg-desktop",
      client_secret: "s3cret",
      redirect_uri: undefined,
      tenant: undefined,
      base: undefined,
    });
  });

  it("never sends a secret typed for QuickBooks when Xero is chosen", () => {
    const request = connectRequest({ system: "xero", ...fields, base: "http://127.0.0.1:4242" });
    expect(request.client_secret).toBeUndefined();
    expect(request.tenant).toBe("Bedrock Ltd");
    expect(request.base).toBe("http://127.0.0.1:4242");
  });
});
