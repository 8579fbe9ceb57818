// ipc.js — the only module that talks to the Tauri backend.
//
// Everything that crosses the IPC boundary from the backend (command results,
// command rejections and event payloads) is also appended to the bounded array
// `window.__latchkeyIpc` as `{ kind: "result" | "error" | "event", name, payload }`
// so an end-to-end test can scan exactly what the UI received.

const IPC_LOG_LIMIT = 500;

/** @type {{kind: "result" | "error" | "event", name: string, payload: unknown}[]} */
const ipcLog = Array.isArray(window.__latchkeyIpc) ? window.__latchkeyIpc : [];
window.__latchkeyIpc = ipcLog;

/** Copies a payload so later UI code can never alter what was recorded. */
function snapshot(payload) {
  try {
    return structuredClone(payload);
  } catch {
    return payload;
  }
}

function record(kind, name, payload) {
  ipcLog.push({ kind, name, payload: snapshot(payload) });
  if (ipcLog.length > IPC_LOG_LIMIT) {
    ipcLog.splice(0, ipcLog.length - IPC_LOG_LIMIT);
  }
}

/**
 * A rejected command, normalised. `message` is always a sentence that can be
 * shown to the person as-is.
 */
export class CommandError extends Error {
  /**
   * @param {string} code one of reauth_needed | keychain_unavailable | provider_error |
   *   network | invalid_input | not_found | internal (or "unavailable" when there is no backend)
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }
}

const GENERIC_FAILURE = "Something went wrong inside Latchkey. Please try again.";

function toCommandError(raw) {
  if (raw && typeof raw === "object") {
    const code = typeof raw.code === "string" ? raw.code : "internal";
    const message =
      typeof raw.message === "string" && raw.message.trim() !== "" ? raw.message : GENERIC_FAILURE;
    return new CommandError(code, message);
  }
  if (typeof raw === "string" && raw.trim() !== "") {
    // Tauri itself rejects with a bare string for e.g. an unknown command.
    return new CommandError("internal", raw);
  }
  return new CommandError("internal", GENERIC_FAILURE);
}

/** True when the page runs inside the Tauri webview with the global API injected. */
export function isTauriAvailable() {
  const tauri = window.__TAURI__;
  return Boolean(
    tauri &&
      tauri.core &&
      typeof tauri.core.invoke === "function" &&
      tauri.event &&
      typeof tauri.event.listen === "function",
  );
}

const UNAVAILABLE_MESSAGE =
  "Latchkey's backend isn't reachable from this window. Open this page from the Latchkey app.";

/**
 * Calls a backend command. Resolves with its result; rejects with a CommandError.
 * @param {string} cmd
 * @param {Record<string, unknown>} [args]
 */
export async function invoke(cmd, args) {
  if (!isTauriAvailable()) {
    throw new CommandError("unavailable", UNAVAILABLE_MESSAGE);
  }
  let result;
  try {
    result = await window.__TAURI__.core.invoke(cmd, args);
  } catch (raw) {
    record("error", cmd, raw);
    throw toCommandError(raw);
  }
  record("result", cmd, result);
  return result;
}

/**
 * Subscribes to a backend event. The callback receives the event's payload.
 * Resolves with a function that unsubscribes.
 * @param {string} event
 * @param {(payload: any) => void} callback
 * @returns {Promise<() => void>}
 */
export async function listen(event, callback) {
  if (!isTauriAvailable()) {
    throw new CommandError("unavailable", UNAVAILABLE_MESSAGE);
  }
  try {
    return await window.__TAURI__.event.listen(event, (message) => {
      const payload = message ? message.payload : undefined;
      record("event", event, payload);
      callback(payload);
    });
  } catch (raw) {
    throw toCommandError(raw);
  }
}
