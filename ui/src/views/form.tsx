// What every Settings form shares: its outcome line and its busy/ok/error state.
import { useState } from "react";
import { CommandError } from "../transport";

export const message = (e: unknown) => (e instanceof CommandError ? e.message : String(e));

/** One form's outcome line: a status when it worked, an alert when it did not. */
export function Outcome(props: { ok: string | null; error: string | null }) {
  if (props.error)
    return (
      <p className="error" role="alert">
        {props.error}
      </p>
    );
  if (props.ok) return <p role="status">{props.ok}</p>;
  return null;
}

export function useForm() {
  const [ok, setOk] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<string>) => {
    setBusy(true);
    setOk(null);
    setError(null);
    try {
      setOk(await work());
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return { ok, error, busy, run };
}
