// The window: a "Demo data" banner when the store is the demo's, and its screens —
// Today, Findings, Actions, Re-charge, Import, Month-end, Audit log, Settings, Payouts — reachable by tab
// and by keyboard (Alt+1, Alt+2, …).
import { useCallback, useEffect, useState } from "react";
import type { Today as TodayData } from "./generated";
import { call, CommandError } from "./transport";
import { Today } from "./views/Today";
import { Findings } from "./views/Findings";
import { Actions } from "./views/Actions";
import { Recharge } from "./views/Recharge";
import { MonthEnd } from "./views/MonthEnd";
import { AuditLog } from "./views/AuditLog";
import { Import } from "./views/Import";
import { Settings } from "./views/Settings";
import { Payouts } from "./views/Payouts";

type Screen =
  | "today"
  | "findings"
  | "actions"
  | "recharge"
  | "import"
  | "monthend"
  | "audit"
  | "settings"
  | "payouts";
const SCREENS: { id: Screen; label: string }[] = [
  { id: "today", label: "Today" },
  { id: "findings", label: "Findings" },
  { id: "actions", label: "Actions" },
  { id: "recharge", label: "Re-charge" },
  { id: "import", label: "Import" },
  { id: "monthend", label: "Month-end" },
  { id: "audit", label: "Audit log" },
  { id: "settings", label: "Settings" },
  { id: "payouts", label: "Payouts" },
];

export function App() {
  const [screen, setScreen] = useState<Screen>("today");
  const [today, setToday] = useState<TodayData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [user, setUser] = useState(() => localStorage.getItem("chargeguard.user") ?? "bookkeeper");

  const refresh = useCallback(async () => {
    try {
      setToday(await call("today", null));
      setError(null);
    } catch (e) {
      setError(e instanceof CommandError ? e.message : String(e));
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh, screen]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey) return;
      const index = Number(e.key) - 1;
      if (Number.isInteger(index) && index >= 0 && index < SCREENS.length) {
        e.preventDefault();
        setScreen(SCREENS[index].id);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  return (
    <div className="app">
      {today?.demo && (
        <div className="demo-banner" role="status">
          Demo data — a made-up store and a sandbox gateway; no real money moves.
          {today.demo_approvers.length > 0 && (
            <span data-testid="demo-approvers">
              {" "}
              Approve as{" "}
              {today.demo_approvers.map((a, i) => (
                <span key={a.name}>
                  {i > 0 && " or "}
                  <strong>{a.name}</strong> (passphrase <code>{a.passphrase}</code>)
                </span>
              ))}
              ; above the threshold a refund needs both.
            </span>
          )}
        </div>
      )}
      <header className="top">
        <h1>Chargeguard</h1>
        <nav role="tablist" aria-label="Screens">
          {SCREENS.map((s, i) => (
            <button
              key={s.id}
              role="tab"
              aria-selected={screen === s.id}
              className={screen === s.id ? "tab active" : "tab"}
              onClick={() => setScreen(s.id)}
              title={`Alt+${i + 1}`}
            >
              {s.label}
            </button>
          ))}
        </nav>
        <label className="who">
          You are
          <input
            aria-label="Your name"
            value={user}
            onChange={(e) => {
              setUser(e.target.value);
              localStorage.setItem("chargeguard.user", e.target.value);
            }}
          />
        </label>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <main>
        {screen === "today" && (
          <Today today={today} onRefresh={refresh} onOpenFindings={() => setScreen("findings")} />
        )}
        {screen === "findings" && <Findings user={user} onChanged={refresh} />}
        {screen === "actions" && <Actions user={user} onChanged={refresh} />}
        {screen === "recharge" && <Recharge user={user} onChanged={refresh} />}
        {screen === "monthend" && <MonthEnd onChanged={refresh} />}
        {screen === "audit" && <AuditLog />}
        {screen === "import" && <Import onChanged={refresh} />}
        {screen === "settings" && <Settings user={user} onChanged={refresh} />}
        {screen === "payouts" && <Payouts />}
      </main>
    </div>
  );
}
