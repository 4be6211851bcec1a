// Settings: the gateway connection (the secret key is typed once, goes to the core and the
// OS keyring, and is never shown again — no answer carries it back), the people who
// approve and the approval threshold (an approver's sign-off), the business's time zone,
// and where the data lives.
import { useCallback, useEffect, useId, useState } from "react";
import type { PersonRole, Settings as SettingsData, ThresholdSource } from "../generated";
import { formatAmount } from "../money";
import { call } from "../transport";
import { KEY_SOURCE_WORDS, personProblem, zoneSuggestions } from "../settingsForm";
import { AccountingSystem } from "./AccountingSystem";
import { message, Outcome, useForm } from "./form";

export function Settings(props: { user: string; onChanged: () => Promise<void> }) {
  const [settings, setSettings] = useState<SettingsData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setSettings(await call("settings", null));
    } catch (e) {
      setError(message(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  if (error)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (!settings) return <p aria-busy="true">Loading…</p>;
  const changed = async (next: SettingsData) => {
    setSettings(next);
    await props.onChanged();
  };
  return (
    <section aria-labelledby="settings-title" className="settings">
      <h2 id="settings-title">Settings</h2>
      <div className="cards">
        <Gateway settings={settings} onChanged={changed} />
        <AccountingSystem />
        <People settings={settings} onChanged={changed} />
        <Threshold settings={settings} user={props.user} onChanged={changed} />
        <TimeZone settings={settings} user={props.user} onChanged={changed} />
        <DefaultCurrency settings={settings} user={props.user} onChanged={changed} />
        <section className="card" aria-labelledby="data-title">
          <h3 id="data-title">Data folder</h3>
          <p>
            <code data-testid="data-folder">{settings.data_folder}</code>
          </p>
          <p className="hint">
            The store is <code>{settings.store_file}</code>. Back up this folder to keep your books; the
            gateway key is not in it.
          </p>
        </section>
      </div>
    </section>
  );
}

function Gateway(props: { settings: SettingsData; onChanged: (s: SettingsData) => Promise<void> }) {
  const { gateway } = props.settings;
  const ownBooks = gateway.own_books;
  const [apiBase, setApiBase] = useState(gateway.api_base ?? "https://api.stripe.com");
  const [key, setKey] = useState("");
  const form = useForm();
  const ids = { base: useId(), key: useId() };
  const connect = () =>
    form.run(async () => {
      const typed = key;
      // The key leaves the form's state at once, whatever the answer.
      setKey("");
      const next = await call("connect_gateway", { api_base: apiBase, secret_key: typed });
      if (ownBooks) {
        // The demo window stays on the demo; the new books open at the next start.
        await props.onChanged(await call("settings", null));
        return `Connected to ${next.gateway.api_base}: the gateway accepted the key. Your own books are at ${ownBooks}; close and reopen Chargeguard to work on them.`;
      }
      await props.onChanged(next);
      return `Connected to ${next.gateway.api_base}: the gateway accepted the key. ${KEY_SOURCE_WORDS[next.gateway.key_source]}`;
    });
  return (
    <section className="card" aria-labelledby="gateway-title">
      <h3 id="gateway-title">Gateway</h3>
      <p data-testid="gateway-api-base">{gateway.api_base ?? "Not connected"}</p>
      <p className="hint">{KEY_SOURCE_WORDS[gateway.key_source]}</p>
      {ownBooks && gateway.can_connect && (
        <p className="hint" data-testid="own-books">
          This is the demo. Connecting your own gateway starts your own books in {ownBooks}; the
          demo stays as it is.
        </p>
      )}
      {gateway.can_connect ? (
        <form
          aria-label="Connect a gateway"
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void connect();
          }}
        >
          <label htmlFor={ids.base}>Gateway address</label>
          <input id={ids.base} value={apiBase} onChange={(e) => setApiBase(e.target.value)} />
          <label htmlFor={ids.key}>Secret key (sk_live_… or sk_test_…)</label>
          <input
            id={ids.key}
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
          <button className="primary" type="submit" disabled={form.busy || key.trim() === ""}>
            {gateway.api_base ? "Connect again" : "Connect"}
          </button>
        </form>
      ) : (
        <p className="hint">
          {ownBooks
            ? "Your own books exist now: close and reopen Chargeguard to work on them."
            : "To connect a real gateway, start Chargeguard on your own store, not the demo."}
        </p>
      )}
      <Outcome ok={form.ok} error={form.error} />
    </section>
  );
}

function People(props: { settings: SettingsData; onChanged: (s: SettingsData) => Promise<void> }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<PersonRole>("approver");
  const [passphrase, setPassphrase] = useState("");
  const [again, setAgain] = useState("");
  const [by, setBy] = useState("");
  const [byPassphrase, setByPassphrase] = useState("");
  const form = useForm();
  const ids = { name: useId(), role: useId(), pass: useId(), again: useId(), by: useId(), byPass: useId() };
  // Once the store has an approver, one of them vouches for every new person.
  const vouched = props.settings.people.some((p) => p.role === "approver");
  const add = () =>
    form.run(async () => {
      const problem = personProblem(name, passphrase, again);
      if (problem) throw new Error(problem);
      const typed = byPassphrase;
      setByPassphrase("");
      const next = await call("user_add", {
        name,
        role,
        passphrase,
        ...(vouched ? { by, by_passphrase: typed } : {}),
      });
      setPassphrase("");
      setAgain("");
      setName("");
      await props.onChanged(next);
      return `Added ${name.trim()} as ${role}.`;
    });
  return (
    <section className="card" aria-labelledby="people-title">
      <h3 id="people-title">People</h3>
      {props.settings.people.length === 0 ? (
        <p>No one yet: add an approver before approving fixes.</p>
      ) : (
        <table className="grid compact" aria-label="People">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
            </tr>
          </thead>
          <tbody>
            {props.settings.people.map((p) => (
              <tr key={p.name}>
                <td>{p.name}</td>
                <td>{p.role}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        aria-label="Add a person"
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor={ids.role}>Role</label>
        <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value as PersonRole)}>
          <option value="approver">Approver (approves fixes, signs off)</option>
          <option value="bookkeeper">Bookkeeper (proposes and executes)</option>
        </select>
        <label htmlFor={ids.pass}>Passphrase (at least 8 characters)</label>
        <input id={ids.pass} type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
        <label htmlFor={ids.again}>The passphrase again</label>
        <input id={ids.again} type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} />
        {vouched && (
          <>
            <label htmlFor={ids.by}>Approver adding them</label>
            <input id={ids.by} value={by} onChange={(e) => setBy(e.target.value)} />
            <label htmlFor={ids.byPass}>The approver's passphrase</label>
            <input
              id={ids.byPass}
              type="password"
              autoComplete="current-password"
              value={byPassphrase}
              onChange={(e) => setByPassphrase(e.target.value)}
            />
          </>
        )}
        <button type="submit" disabled={form.busy}>
          Add person
        </button>
      </form>
      <Outcome ok={form.ok} error={form.error} />
    </section>
  );
}

const SOURCE_WORDS: Record<ThresholdSource, string> = {
  set: "set by an approver",
  default: "the default, about 500 US dollars",
  unset: "none set: every amount needs two approvers",
};

function Threshold(props: {
  settings: SettingsData;
  user: string;
  onChanged: (s: SettingsData) => Promise<void>;
}) {
  const first = props.settings.thresholds[0];
  const [currency, setCurrency] = useState(first?.amount.currency ?? props.settings.default_currency ?? "");
  const [amount, setAmount] = useState("");
  const [by, setBy] = useState(props.user);
  const [passphrase, setPassphrase] = useState("");
  const form = useForm();
  const ids = { currency: useId(), amount: useId(), by: useId(), pass: useId() };
  const save = () =>
    form.run(async () => {
      const typed = passphrase;
      setPassphrase("");
      const next = await call("threshold_set", { currency, amount, by, passphrase: typed });
      await props.onChanged(next);
      const set = next.thresholds.find((t) => t.amount.currency === currency.trim().toUpperCase());
      return set ? `${set.amount.currency}: ${set.words}.` : "Threshold changed.";
    });
  return (
    <section className="card" aria-labelledby="threshold-title">
      <h3 id="threshold-title">Approval thresholds</h3>
      <p>Above its currency's threshold, a refund or re-charge needs a second, different approver.</p>
      {props.settings.thresholds.length === 0 ? (
        <p className="muted">
          No money in the books yet: each currency takes its default, about 500 US dollars in its own terms.
        </p>
      ) : (
        <table aria-label="Thresholds by currency">
          <thead>
            <tr>
              <th>Currency</th>
              <th>Two approvers above</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {props.settings.thresholds.map((t) => (
              <tr key={t.amount.currency} data-testid={`threshold-${t.amount.currency}`}>
                <td>{t.amount.currency}</td>
                <td className="num">{t.source === "unset" ? "every amount" : formatAmount(t.amount)}</td>
                <td>{SOURCE_WORDS[t.source]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        aria-label="Change a threshold"
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label htmlFor={ids.currency}>Currency (like USD or JPY)</label>
        <input
          id={ids.currency}
          value={currency}
          maxLength={3}
          onChange={(e) => setCurrency(e.target.value.toUpperCase())}
        />
        <label htmlFor={ids.amount}>New threshold (as you write it, like 75,000 or 1,250.500)</label>
        <input id={ids.amount} inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
        <label htmlFor={ids.by}>Approver signing off</label>
        <input id={ids.by} value={by} onChange={(e) => setBy(e.target.value)} />
        <label htmlFor={ids.pass}>Their passphrase</label>
        <input id={ids.pass} type="password" autoComplete="current-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
        <button type="submit" disabled={form.busy}>
          Change threshold
        </button>
      </form>
      <Outcome ok={form.ok} error={form.error} />
    </section>
  );
}

function TimeZone(props: {
  settings: SettingsData;
  user: string;
  onChanged: (s: SettingsData) => Promise<void>;
}) {
  const [zone, setZone] = useState(props.settings.time_zone ?? "");
  const form = useForm();
  const ids = { zone: useId(), list: useId() };
  const [zones] = useState(zoneSuggestions);
  const save = () =>
    form.run(async () => {
      const next = await call("time_zone_set", { zone, by: props.user });
      await props.onChanged(next);
      return `Months and days are now read in ${next.time_zone}.`;
    });
  return (
    <section className="card" aria-labelledby="zone-title">
      <h3 id="zone-title">Time zone</h3>
      <p>
        <strong data-testid="time-zone">{props.settings.time_zone ?? "Not set"}</strong>
        {props.settings.time_zone === null && " — a month cannot be exported or closed until it is."}
      </p>
      <form
        aria-label="Change the time zone"
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label htmlFor={ids.zone}>The zone you keep the books in (like Europe/Berlin)</label>
        <input id={ids.zone} list={ids.list} value={zone} onChange={(e) => setZone(e.target.value)} />
        <datalist id={ids.list}>
          {zones.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <button type="submit" disabled={form.busy || zone.trim() === ""}>
          Set time zone
        </button>
      </form>
      <Outcome ok={form.ok} error={form.error} />
    </section>
  );
}

function DefaultCurrency(props: {
  settings: SettingsData;
  user: string;
  onChanged: (s: SettingsData) => Promise<void>;
}) {
  const [code, setCode] = useState(props.settings.default_currency ?? "");
  const form = useForm();
  const id = useId();
  const save = () =>
    form.run(async () => {
      const next = await call("default_currency_set", { code, by: props.user });
      await props.onChanged(next);
      return `Files without a currency column are now read in ${next.default_currency}.`;
    });
  return (
    <section className="card" aria-labelledby="currency-title">
      <h3 id="currency-title">Default currency</h3>
      <p>
        <strong data-testid="default-currency">{props.settings.default_currency ?? "Not set"}</strong>
        {props.settings.default_currency === null &&
          " — an invoice export without a currency column (Invoicely, Wave) needs one named at its import."}
      </p>
      <form
        aria-label="Change the default currency"
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label htmlFor={id}>The currency of files that do not say (like USD)</label>
        <input id={id} value={code} onChange={(e) => setCode(e.target.value.toUpperCase())} maxLength={3} />
        <button type="submit" disabled={form.busy || code.trim().length !== 3}>
          Set default currency
        </button>
      </form>
      <Outcome ok={form.ok} error={form.error} />
    </section>
  );
}
