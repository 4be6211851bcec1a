// The one way the front end reaches the core: a named command with one argument, answered
// by a value or an ApiError {code, message}. In the desktop app it is Tauri's `invoke`;
// in a browser it is the HTTP wrapper (`chargeguard ui-server`), `POST /api/COMMAND`.
// Both shells call the same `chargeguard::api` functions with the same generated types.
import type { ApiError, Commands } from "./generated";

export type { Commands };

export type Command = keyof Commands;

export class CommandError extends Error {
  readonly code: ApiError["code"];
  constructor(error: ApiError) {
    super(error.message);
    this.code = error.code;
  }
}

function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiError).code === "string" &&
    typeof (value as ApiError).message === "string"
  );
}

type Invoke = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

function tauriInvoke(): Invoke | null {
  const internals = (globalThis as { __TAURI_INTERNALS__?: { invoke?: Invoke } })
    .__TAURI_INTERNALS__;
  return internals?.invoke ?? null;
}

const SECRET_KEY = "chargeguard-api-secret";

/**
 * The secret `chargeguard ui-server` printed in the address it was opened with
 * (`#token=…`): kept for this tab only, and taken out of the address bar so it is not
 * bookmarked or shared. Null inside the desktop app, which needs none.
 */
export function apiSecret(): string | null {
  const fromAddress = /(?:^#|&)token=([0-9a-f]+)/.exec(globalThis.location?.hash ?? "")?.[1];
  if (fromAddress) {
    try {
      globalThis.sessionStorage?.setItem(SECRET_KEY, fromAddress);
      globalThis.history?.replaceState(null, "", globalThis.location.pathname + globalThis.location.search);
    } catch {
      // A browser without storage keeps working for this page's life from the address.
    }
    return fromAddress;
  }
  try {
    return globalThis.sessionStorage?.getItem(SECRET_KEY) ?? null;
  } catch {
    return null;
  }
}

export async function call<C extends Command>(
  command: C,
  arg: Commands[C][0],
): Promise<Commands[C][1]> {
  const invoke = tauriInvoke();
  if (invoke) {
    try {
      // The shell defines one command, `api`, routing by name to the same list as the
      // HTTP wrapper (chargeguard::api::commands).
      return (await invoke("api", { command, request: arg })) as Commands[C][1];
    } catch (e) {
      throw isApiError(e) ? new CommandError(e) : e;
    }
  }
  let response: Response;
  try {
    const secret = apiSecret();
    response = await fetch(`/api/${command}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      },
      body: JSON.stringify(arg),
    });
  } catch {
    throw new CommandError({
      code: "internal",
      message: "Chargeguard's server does not answer; is `chargeguard ui-server` still running?",
    });
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    throw new CommandError(
      isApiError(body) ? body : { code: "internal", message: `HTTP ${response.status}` },
    );
  }
  return body as Commands[C][1];
}
