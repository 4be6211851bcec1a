// Settings' accounting system: connect QuickBooks Online or Xero, see which company the
// store keeps and whether it must be connected again, disconnect. Connecting asks the core
// for the consent and waits for the person's browser to come back to the app's loopback
// redirect; the desktop app opens the browser itself, a web window shows the address as a
// link. The window polls `books_status` while it waits, as it polls a sync. The client
// secret leaves the form's state as soon as it is sent; no answer carries it back.
import { useCallback, useEffect, useId, useState } from "react";
import type { BooksConnectRequest, BooksStatus, BooksSystem } from "../generated";
import { call } from "../transport";
import { message, Outcome, useForm } from "./form";

const SYSTEM_NAMES: Record<BooksSystem, string> = {
  quickbooks: "QuickBooks Online",
  xero: "Xero",
};

/** How often the window asks whether the browser came back. */
const POLL_MS = 500;

/** The request the form's fields make: blanks left out, so the core's defaults apply. */
export function connectRequest(fields: {
  system: BooksSystem;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  tenant: string;
  base: string;
}): BooksConnectRequest {
  const given = (text: string) => (text.trim() === "" ? undefined : text.trim());
  return {
    system: fields.system,
    client_id: fields.clientId.trim(),
    client_secret: fields.system === "quickbooks" ? given(fields.clientSecret) : undefined,
    redirect_uri: given(fields.redirectUri),
    tenant: fields.system === "xero" ? given(fields.tenant) : undefined,
    base: given(fields.base),
  };
}

export function AccountingSystem() {
  const [status, setStatus] = useState<BooksStatus | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [system, setSystem] = useState<BooksSystem>("quickbooks");
  const [clientId, setClientId] = useState("");
  const [clientSecret, setClientSecret] = useState("");
  const [redirectUri, setRedirectUri] = useState("");
  const [tenant, setTenant] = useState("");
  const [base, setBase] = useState("");
  const form = useForm();
  const ids = { system: useId(), id: useId(), secret: useId(), redirect: useId(), tenant: useId(), base: useId() };

  const load = useCallback(async () => {
    try {
      setStatus(await call("books_status", null));
      setLoadError(null);
    } catch (e) {
      setLoadError(message(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  // Connecting again after a refused grant starts on the system the store keeps.
  const kept = status?.connection?.system;
  useEffect(() => {
    if (kept) setSystem(kept);
  }, [kept]);

  const waiting = status?.consent?.state === "waiting";
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [waiting, load]);

  const connect = () =>
    form.run(async () => {
      const request = connectRequest({ system, clientId, clientSecret, redirectUri, tenant, base });
      // The secret leaves the form's state at once, whatever the answer.
      setClientSecret("");
      const next = await call("books_connect", request);
      setStatus(next);
      // What to do next is the waiting consent's own words, gone once it is answered.
      return "";
    });
  const cancel = () =>
    form.run(async () => {
      setStatus(await call("books_connect_cancel", null));
      return "Stopped waiting; nothing was connected.";
    });
  const disconnect = () =>
    form.run(async () => {
      const was = status?.connection?.name;
      setStatus(await call("books_disconnect", null));
      return `Disconnected ${was ?? ""}; the invoices and payments already synced stay.`;
    });

  if (loadError)
    return (
      <section className="card" aria-labelledby="books-title">
        <h3 id="books-title">Accounting system</h3>
        <p className="error" role="alert">
          {loadError}
        </p>
      </section>
    );
  if (!status)
    return (
      <section className="card" aria-labelledby="books-title" aria-busy="true">
        <h3 id="books-title">Accounting system</h3>
        <p>Loading…</p>
      </section>
    );
  const { connection, consent } = status;
  const mayConnect = !connection || connection.reconnect !== null;
  return (
    <section className="card" aria-labelledby="books-title">
      <h3 id="books-title">Accounting system</h3>
      <p data-testid="books-connection">{connection ? `Connected to ${connection.name}` : "Not connected"}</p>
      {connection?.reconnect && (
        <p className="error" role="alert" data-testid="books-reconnect">
          {connection.reconnect}: connect it again below.
        </p>
      )}
      <p className="hint" data-testid="books-hint">
        Invoices and payments sync from it with every sync; a ledger fix you approve is written there once.{" "}
        {connection?.demo_stand_in
          ? "These are the demo's own books, in its sandbox's Xero stand-in: this window connects them each time it starts, and no real Xero is touched."
          : "Its tokens stay in this computer's keyring."}
      </p>
      {consent?.state === "waiting" && (
        <div role="status" data-testid="books-consent" className="stack">
          <p>
            Waiting for {SYSTEM_NAMES[consent.system]} to send your browser back to {consent.redirect_uri}.
          </p>
          {consent.opened ? (
            <p>Your browser shows the {SYSTEM_NAMES[consent.system]} consent page: sign in, choose the company and allow access.</p>
          ) : (
            <p>
              <a href={consent.url} target="_blank" rel="noopener noreferrer" data-testid="books-consent-link">
                Open the {SYSTEM_NAMES[consent.system]} consent page
              </a>
              , sign in, choose the company and allow access.
            </p>
          )}
          <p className="hint">
            Or copy this address into your browser: <code className="address">{consent.url}</code>
          </p>
          <button type="button" onClick={() => void cancel()} disabled={form.busy}>
            Stop waiting
          </button>
        </div>
      )}
      {consent?.state === "connected" && connection && (
        <p role="status" data-testid="books-connected">
          {connection.name} is connected: Sync now on Today brings its invoices and payments in.
        </p>
      )}
      {consent?.state === "failed" && consent.error && (
        <p className="error" role="alert" data-testid="books-consent-error">
          Not connected: {consent.error.message}
        </p>
      )}
      {mayConnect && !waiting && (
        <form
          aria-label="Connect an accounting system"
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void connect();
          }}
        >
          <label htmlFor={ids.system}>System</label>
          <select id={ids.system} value={system} onChange={(e) => setSystem(e.target.value as BooksSystem)}>
            <option value="quickbooks">{SYSTEM_NAMES.quickbooks}</option>
            <option value="xero">{SYSTEM_NAMES.xero}</option>
          </select>
          <label htmlFor={ids.id}>Your app's client id</label>
          <input id={ids.id} value={clientId} spellCheck={false} onChange={(e) => setClientId(e.target.value)} />
          {system === "quickbooks" && (
            <>
              <label htmlFor={ids.secret}>Its client secret (Keys &amp; credentials)</label>
              <input
                id={ids.secret}
                type="password"
                autoComplete="off"
                spellCheck={false}
                value={clientSecret}
                onChange={(e) => setClientSecret(e.target.value)}
              />
            </>
          )}
          {system === "xero" && (
            <>
              <label htmlFor={ids.tenant}>Organisation, if you allow several (name or id)</label>
              <input id={ids.tenant} value={tenant} onChange={(e) => setTenant(e.target.value)} />
            </>
          )}
          <label htmlFor={ids.redirect}>Redirect URI registered for the app</label>
          <input
            id={ids.redirect}
            value={redirectUri}
            spellCheck={false}
            placeholder={system === "quickbooks" ? "http://localhost:8765/callback" : "http://localhost:8766/callback"}
            onChange={(e) => setRedirectUri(e.target.value)}
          />
          <label htmlFor={ids.base}>Local stand-in address (leave empty for the real system)</label>
          <input
            id={ids.base}
            value={base}
            spellCheck={false}
            placeholder="http://127.0.0.1:PORT"
            onChange={(e) => setBase(e.target.value)}
          />
          <button
            className="primary"
            type="submit"
            disabled={form.busy || clientId.trim() === "" || (system === "quickbooks" && clientSecret.trim() === "")}
          >
            {connection ? "Connect again" : "Connect"}
          </button>
        </form>
      )}
      {connection && !connection.reconnect && (
        <PaymentAccount system={connection.system} chosen={connection.payment_account} onChosen={setStatus} />
      )}
      {connection && (
        <button type="button" onClick={() => void disconnect()} disabled={form.busy || waiting}>
          Disconnect {connection.name}
        </button>
      )}
      <Outcome ok={form.ok} error={form.error} />
    </section>
  );
}

/** What the account Stripe's money goes through is for, in each system's words. */
const ACCOUNT_WORDS: Record<BooksSystem, { chosen: (a: string) => string; none: string; label: string; max: number }> = {
  xero: {
    chosen: (a) => `Payments a fix records go into account ${a}, and refunds it records are paid from it.`,
    none: "Choose the account Stripe's money lands in: Xero needs one before a fix can record a payment or a refund.",
    label: "Account code in Xero's chart of accounts (like 090)",
    max: 10,
  },
  quickbooks: {
    chosen: (a) => `Refunds a fix records are paid from account ${a}, and payments it records are deposited into it.`,
    none: "Choose the account Stripe's money goes through: QuickBooks needs one before a fix can record a refund.",
    label: "The account's Id in QuickBooks (a number, like 35)",
    max: 20,
  },
};

/** The account Stripe's money goes through: Xero needs one for each payment a fix records,
 * QuickBooks for each refund. */
function PaymentAccount(props: { system: BooksSystem; chosen: string | null; onChosen: (s: BooksStatus) => void }) {
  const [code, setCode] = useState(props.chosen ?? "");
  const form = useForm();
  const id = useId();
  const words = ACCOUNT_WORDS[props.system];
  const save = () =>
    form.run(async () => {
      const next = await call("books_payment_account", { code });
      props.onChosen(next);
      return words.chosen(next.connection?.payment_account ?? code);
    });
  return (
    <form
      aria-label={`${SYSTEM_NAMES[props.system]} payment account`}
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <p data-testid="books-payment-account">{props.chosen ? words.chosen(props.chosen) : words.none}</p>
      <label htmlFor={id}>{words.label}</label>
      <input id={id} value={code} maxLength={words.max} onChange={(e) => setCode(e.target.value)} />
      <button type="submit" disabled={form.busy || code.trim() === ""}>
        Set payment account
      </button>
      <Outcome ok={form.ok} error={form.error} />
    </form>
  );
}
