// main.js — rendering and interaction for the Latchkey window.
//
// Data flow is one-way: backend data and UI-only state live in `state`;
// actions and backend events mutate `state` and call `render()`; `render()`
// reconciles long-lived, keyed components (one per connection, one per
// account) so inputs keep their text and focus across updates.
//
// Sections:
//   1. Presentation tables (status words, tones, reasons)
//   2. State
//   3. DOM + formatting helpers (all text goes through textContent)
//   4. Components: ConnectionCard, AccountRow, scope chips, section states
//   5. Rendering (keyed reconciliation)
//   6. Actions (load, connect, revoke)
//   7. Backend events
//   8. Boot

import { CommandError, invoke, isTauriAvailable, listen } from "./ipc.js";

/* ------------------------------------------------------------------------ */
/* 1. Presentation tables                                                   */
/* ------------------------------------------------------------------------ */

/** Account status → badge words and colour tone. */
const ACCOUNT_STATUS = {
  active: { label: "Active", tone: "success" },
  pending: { label: "Waiting for sign-in…", tone: "pending" },
  expired: { label: "Expired — reconnect", tone: "warning" },
  revoked: { label: "Revoked", tone: "neutral" },
  error: { label: "Error", tone: "danger" },
  suspended: { label: "Suspended", tone: "suspended" },
};

/** Connection status → pill words, tone and why Connect is unavailable. */
const CONNECTION_STATUS = {
  active: { label: "Ready", tone: "success", reason: null },
  inactive: {
    label: "Inactive",
    tone: "neutral",
    reason: "This connection is inactive. Enable it in connections.toml to connect an account.",
  },
  pending: {
    label: "Setting up",
    tone: "pending",
    reason: "Latchkey is still setting up this connection. Try again in a moment.",
  },
  error: {
    label: "Error",
    tone: "danger",
    reason: "This connection isn’t working. Check its settings in connections.toml.",
  },
};

const TEXT = {
  waitingForBrowser: "Waiting for you to finish in your browser…",
  signInNotFinished: "The sign-in was not finished. Connect again to try once more.",
  noAccounts: "No accounts yet — connect one above.",
  noConnectionsTitle: "No connections configured",
  noConnections:
    "A connection describes a service Latchkey can sign in to. Connections are configured in connections.toml in Latchkey’s config folder — add one there, then restart Latchkey.",
  notInAppTitle: "Latchkey isn’t running",
  notInApp:
    "This page is Latchkey’s window, opened outside the Latchkey app, so it can’t reach your connections or accounts. Open Latchkey itself to manage your accounts.",
  connectFailed: "Latchkey couldn’t start signing in. Please try again.",
  revokeFailed: "Latchkey couldn’t revoke this account. Please try again.",
  loadConnectionsFailed: "Latchkey couldn’t load your connections.",
  loadAccountsFailed: "Latchkey couldn’t load your accounts.",
  listenFailed:
    "Latchkey couldn’t subscribe to live updates, so this window may be out of date. Use Refresh to update it.",
  unexpected: "Something unexpected went wrong in this window. Your accounts are not affected.",
};

/* ------------------------------------------------------------------------ */
/* 2. State                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * @typedef {{ id: string, name: string, kind: string, status: string,
 *             scopes: string[], issuer: string | null }} ConnectionDto
 * @typedef {{ subject: string | null, email: string | null, name: string | null }} IdentityDto
 * @typedef {{ id: string, connection_id: string, connection_name: string, identifier: string,
 *             status: string, identity: IdentityDto | null, requested_scopes: string[],
 *             granted_scopes: string[], last_error: string | null, updated_at: string }} AccountDto
 * @typedef {"loading" | "ready" | "error" | "unavailable"} LoadStatus
 */

const state = {
  /** @type {{ status: LoadStatus, items: ConnectionDto[], error: string | null }} */
  connections: { status: "loading", items: [], error: null },
  /** @type {{ status: LoadStatus, items: AccountDto[], error: string | null }} */
  accounts: { status: "loading", items: [], error: null },
  /** Bumped by every `accounts-changed`; lets a slower list_accounts result be discarded. */
  accountsVersion: 0,
  /** Connection ids whose `connect` command is still running. */
  connecting: new Set(),
  /** Connection id → message from a failed connect. */
  connectErrors: new Map(),
  /** Account ids showing the in-row revoke confirmation. */
  confirmingRevoke: new Set(),
  /** Account ids whose `revoke` command is still running. */
  revoking: new Set(),
  /** Account id → { text, tone } from the last revoke. */
  revokeNotices: new Map(),
};

/* ------------------------------------------------------------------------ */
/* 3. DOM + formatting helpers                                              */
/* ------------------------------------------------------------------------ */

/**
 * Creates an element. Children may be nodes or strings (strings become text
 * nodes, never markup). `on*` props become event listeners.
 */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "hidden" || key === "disabled") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

let uniqueCounter = 0;
/** DOM ids derived from a counter, never from backend data. */
function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** Sets text and hides the element when the text is empty. */
function setText(el, text) {
  const value = text ?? "";
  if (el.textContent !== value) el.textContent = value;
  el.hidden = value === "";
}

function setAttr(el, name, value) {
  if (value === null || value === undefined) el.removeAttribute(name);
  else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value));
}

function asArray(value) {
  return Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
}

function nonEmpty(value) {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Human sentence for any thrown value; never a raw object or a stack. */
function messageOf(error, fallback) {
  if (error instanceof CommandError) return error.message;
  if (error && typeof error === "object" && typeof error.message === "string" && error.code) {
    return nonEmpty(error.message) ?? fallback;
  }
  return fallback;
}

function issuerHost(issuer) {
  const value = nonEmpty(issuer);
  if (!value) return null;
  try {
    return new URL(value).host || value;
  } catch {
    return value;
  }
}

function initialOf(text) {
  const value = nonEmpty(text);
  return value ? Array.from(value)[0].toUpperCase() : "?";
}

/** A stable colour slot (0–7) for a string, used for avatar tints. */
function hueSlot(text) {
  let hash = 0;
  for (const ch of String(text ?? "")) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 8;
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absoluteFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function relativeTime(iso) {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return null;
  const seconds = Math.round((time - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  const steps = [
    [60, "second", 1],
    [3600, "minute", 60],
    [86400, "hour", 3600],
    [604800, "day", 86400],
    [2629800, "week", 604800],
    [31557600, "month", 2629800],
    [Infinity, "year", 31557600],
  ];
  for (const [limit, unit, size] of steps) {
    if (abs < limit) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return null;
}

function absoluteTime(iso) {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? null : absoluteFormat.format(new Date(time));
}

/** Polite announcement for screen readers (the visible UI shows the same text). */
let announceTimer = 0;
function announce(message) {
  const region = byId("live-status");
  region.textContent = "";
  window.clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => {
    region.textContent = message;
  }, 60);
}

function showBanner(title, text, tone = "danger") {
  const banner = byId("banner");
  banner.dataset.tone = tone;
  byId("banner-title").textContent = title;
  byId("banner-text").textContent = text;
  banner.hidden = false;
}

/* ------------------------------------------------------------------------ */
/* 4. Components                                                            */
/* ------------------------------------------------------------------------ */

function accountStatusMeta(status) {
  return (
    ACCOUNT_STATUS[status] ?? {
      label: nonEmpty(status) ? status.charAt(0).toUpperCase() + status.slice(1) : "Unknown",
      tone: "neutral",
    }
  );
}

function connectionStatusMeta(status) {
  return (
    CONNECTION_STATUS[status] ?? {
      label: "Unavailable",
      tone: "neutral",
      reason: "This connection can’t be used right now.",
    }
  );
}

/** Status badge: a coloured dot plus words, so colour is never the only signal. */
function makeBadge(props = {}) {
  return h("span", { class: "badge", ...props });
}

function updateBadge(el, label, tone) {
  if (el.textContent !== label) el.textContent = label;
  el.dataset.tone = tone;
}

/** One list of scope chips. `testid` is only applied to chips that mean “granted”. */
function scopeChip(scope, { variant = "granted" } = {}) {
  if (variant === "missing") {
    return h(
      "li",
      { class: "chip chip-missing", "data-testid": "scope-not-granted", "data-scope": scope },
      h("span", { class: "chip-text" }, scope),
      // Leading space keeps textContent readable: "files.read not granted".
      h("span", { class: "chip-note" }, " not granted"),
    );
  }
  if (variant === "requested") {
    return h("li", { class: "chip chip-requested", "data-testid": "scope-requested", "data-scope": scope }, scope);
  }
  if (variant === "plain") {
    return h("li", { class: "chip", "data-scope": scope }, scope);
  }
  return h("li", { class: "chip chip-granted", "data-testid": "scope", "data-scope": scope }, scope);
}

/** Replaces a container's children only when the rendered content changes. */
function replaceIfChanged(container, signature, build) {
  if (container.dataset.signature === signature) return;
  container.dataset.signature = signature;
  container.replaceChildren(...build());
}

class ConnectionCard {
  /** @param {ConnectionDto} connection */
  constructor(connection) {
    this.id = connection.id;
    const titleId = uniqueId("connection-title");
    const inputId = uniqueId("identifier");
    const reasonId = uniqueId("connect-reason");

    this.avatar = h("div", { class: "avatar avatar-connection", "aria-hidden": "true" });
    this.title = h("h3", { class: "card-title", id: titleId });
    this.issuer = h("p", { class: "card-subtitle" });
    this.statusPill = makeBadge({ "data-testid": "connection-status" });

    this.scopesLabel = h("p", { class: "field-label" }, "Requests access to");
    this.scopes = h("ul", { class: "chips", "aria-label": "Requested scopes" });
    this.noScopes = h("p", { class: "muted small" }, "No scopes configured.");

    this.input = h("input", {
      class: "input",
      type: "text",
      id: inputId,
      name: "identifier",
      "data-testid": "identifier",
      placeholder: "e.g. Work",
      autocomplete: "off",
      autocapitalize: "off",
      spellcheck: "false",
      maxlength: "200",
    });
    this.button = h(
      "button",
      { class: "btn btn-primary", type: "submit", "data-testid": "connect", "aria-describedby": reasonId },
      "Connect",
    );
    this.reason = h("p", { class: "hint hint-reason", id: reasonId, "data-testid": "connect-disabled-reason" });
    this.progress = h("p", { class: "hint hint-progress", "data-testid": "connect-progress" });

    this.errorText = h("p", { class: "inline-alert-text", "data-testid": "connect-error" });
    this.errorBox = h(
      "div",
      { class: "inline-alert", "data-tone": "danger", hidden: true },
      h("span", { class: "inline-alert-icon", "aria-hidden": "true" }, "!"),
      this.errorText,
      h(
        "button",
        {
          class: "btn btn-icon",
          type: "button",
          "aria-label": "Dismiss this message",
          onclick: () => actions.dismissConnectError(this.id),
        },
        "×",
      ),
    );

    const form = h(
      "form",
      {
        class: "connect-form",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          actions.connect(this.id, this.input.value);
        },
      },
      h("label", { class: "field-label", for: inputId }, "Account name (optional)"),
      h("div", { class: "input-row" }, this.input, this.button),
      this.reason,
      this.progress,
    );

    this.el = h(
      "article",
      {
        class: "card connection-card",
        "data-testid": "connection",
        "data-connection-id": connection.id,
        "aria-labelledby": titleId,
      },
      h(
        "div",
        { class: "card-header" },
        this.avatar,
        h("div", { class: "card-heading" }, this.title, this.issuer),
        this.statusPill,
      ),
      h("div", { class: "card-section" }, this.scopesLabel, this.scopes, this.noScopes),
      form,
      this.errorBox,
    );
  }

  /**
   * @param {ConnectionDto} connection
   * @param {{ connecting: boolean, error: string | null, waitingCount: number }} view
   */
  update(connection, view) {
    const name = nonEmpty(connection.name) ?? connection.id;
    const meta = connectionStatusMeta(connection.status);
    const host = issuerHost(connection.issuer);
    const scopes = asArray(connection.scopes);

    this.el.dataset.status = connection.status ?? "";
    setText(this.title, name);
    this.avatar.textContent = initialOf(name);
    this.avatar.dataset.hue = String(hueSlot(connection.id));
    setText(this.issuer, host ?? "No issuer configured");
    this.issuer.title = nonEmpty(connection.issuer) ?? "";
    updateBadge(this.statusPill, meta.label, meta.tone);

    replaceIfChanged(this.scopes, JSON.stringify(scopes), () =>
      scopes.map((scope) => scopeChip(scope, { variant: "plain" })),
    );
    this.scopes.hidden = scopes.length === 0;
    this.noScopes.hidden = scopes.length !== 0;

    const usable = connection.status === "active";
    this.button.disabled = !usable || view.connecting;
    this.button.textContent = view.connecting ? "Opening browser…" : "Connect";
    this.input.disabled = !usable;
    setText(this.reason, usable ? "" : meta.reason);
    if (usable) this.button.removeAttribute("aria-describedby");
    else this.button.setAttribute("aria-describedby", this.reason.id);

    let progress = "";
    if (view.connecting) progress = "Opening your browser to sign in…";
    else if (view.waitingCount > 0) progress = `Finish signing in to ${name} in your browser.`;
    setText(this.progress, usable ? progress : "");

    this.errorText.textContent = view.error ?? "";
    this.errorBox.hidden = !view.error;
  }

  clearIdentifier() {
    this.input.value = "";
  }
}

class AccountRow {
  /** @param {AccountDto} account */
  constructor(account) {
    this.id = account.id;
    const titleId = uniqueId("account-title");
    const confirmId = uniqueId("confirm-text");

    this.avatar = h("div", { class: "avatar", "aria-hidden": "true" });
    this.identifier = h("span", { class: "account-identifier", id: titleId });
    this.badge = makeBadge({ "data-testid": "status" });
    this.identity = h("p", { class: "account-identity", "data-testid": "identity" });
    this.connectionName = h("span", { class: "account-connection", "data-testid": "connection-name" });
    this.updated = h("time", { class: "account-updated" });
    this.meta = h("p", { class: "account-meta" }, this.connectionName, this.updated);

    this.scopesLabel = h("span", { class: "scopes-label" });
    this.scopes = h("ul", { class: "chips" });
    this.scopeBlock = h("div", { class: "account-scopes" }, this.scopesLabel, this.scopes);

    this.waiting = h("p", { class: "account-note", "data-testid": "connect-waiting" });
    this.error = h("p", { class: "account-error", "data-testid": "last-error" });
    this.notice = h("p", { class: "notice", "data-testid": "revoke-message", tabindex: "-1" });

    this.revokeButton = h(
      "button",
      { class: "btn btn-danger-quiet", type: "button", "data-testid": "revoke", onclick: () => actions.askRevoke(this.id) },
      "Revoke",
    );
    this.reconnectButton = h(
      "button",
      { class: "btn btn-secondary", type: "button", "data-testid": "reconnect", onclick: () => actions.reconnect(this.id) },
      "Reconnect",
    );

    this.confirmText = h("p", { class: "confirm-text", id: confirmId });
    this.cancelButton = h(
      "button",
      { class: "btn btn-secondary", type: "button", "data-testid": "cancel-revoke", onclick: () => actions.cancelRevoke(this.id) },
      "Cancel",
    );
    this.confirmButton = h(
      "button",
      { class: "btn btn-danger", type: "button", "data-testid": "confirm-revoke", onclick: () => actions.confirmRevoke(this.id) },
      "Revoke",
    );
    this.confirm = h(
      "div",
      {
        class: "confirm",
        role: "group",
        "aria-labelledby": confirmId,
        "data-testid": "revoke-confirmation",
        hidden: true,
        onkeydown: (event) => {
          if (event.key === "Escape" && !state.revoking.has(this.id)) {
            event.stopPropagation();
            actions.cancelRevoke(this.id);
          }
        },
      },
      this.confirmText,
      h("div", { class: "confirm-actions" }, this.cancelButton, this.confirmButton),
    );

    this.el = h(
      "li",
      {
        class: "account",
        "data-testid": "account",
        "data-account-id": account.id,
        "aria-labelledby": titleId,
      },
      h(
        "div",
        { class: "account-main" },
        this.avatar,
        h(
          "div",
          { class: "account-body" },
          h("div", { class: "account-title-row" }, this.identifier, this.badge),
          this.identity,
          this.meta,
          this.scopeBlock,
          this.waiting,
          this.error,
        ),
        h("div", { class: "account-actions" }, this.reconnectButton, this.revokeButton),
      ),
      this.confirm,
      this.notice,
    );
  }

  /**
   * @param {AccountDto} account
   * @param {{ confirming: boolean, revoking: boolean, notice: {text: string, tone: string} | null,
   *           canReconnect: boolean, reconnecting: boolean }} view
   */
  update(account, view) {
    const status = String(account.status ?? "");
    const meta = accountStatusMeta(status);
    const identifier = nonEmpty(account.identifier) ?? "Unnamed account";
    const connectionName = nonEmpty(account.connection_name) ?? "this provider";

    setAttr(this.el, "data-status", status);
    setAttr(this.el, "data-identifier", account.identifier ?? "");
    setAttr(this.el, "data-connection-id", account.connection_id ?? "");
    setAttr(this.el, "aria-busy", view.revoking ? "true" : null);

    setText(this.identifier, identifier);
    this.avatar.textContent = initialOf(account.identity?.name ?? account.identity?.email ?? identifier);
    this.avatar.dataset.hue = String(hueSlot(account.connection_id));
    updateBadge(this.badge, meta.label, meta.tone);

    // Identity: name and email when known, skipping anything equal to the identifier.
    const identityParts = [nonEmpty(account.identity?.name), nonEmpty(account.identity?.email)].filter(
      (part, index, parts) => part && part !== identifier && parts.indexOf(part) === index,
    );
    setText(this.identity, identityParts.join(" · "));

    setText(this.connectionName, connectionName);
    const relative = relativeTime(account.updated_at);
    setText(this.updated, relative ? `Updated ${relative}` : "");
    setAttr(this.updated, "datetime", relative ? account.updated_at : null);
    this.updated.title = absoluteTime(account.updated_at) ?? "";

    this.renderScopes(account, status);

    setText(
      this.waiting,
      status !== "pending" ? "" : account.signing_in ? TEXT.waitingForBrowser : TEXT.signInNotFinished,
    );
    const lastError = nonEmpty(account.last_error);
    setText(this.error, lastError ?? "");

    // Actions.
    const isActive = status === "active";
    this.revokeButton.hidden = !isActive || view.confirming;
    this.reconnectButton.hidden = !view.canReconnect;
    setText(this.reconnectButton, status === "expired" || status === "error" ? "Reconnect" : "Connect again");
    this.reconnectButton.disabled = view.reconnecting;

    this.confirm.hidden = !(isActive && view.confirming) && !view.revoking;
    replaceIfChanged(this.confirmText, connectionName, () => [
      h("strong", {}, "Revoke access?"),
      ` Latchkey will ask ${connectionName} to invalidate the tokens and delete them from this device.`,
    ]);
    this.confirmButton.disabled = view.revoking;
    this.cancelButton.disabled = view.revoking;
    this.confirmButton.textContent = view.revoking ? "Revoking…" : "Revoke";

    setText(this.notice, view.notice?.text ?? "");
    this.notice.dataset.tone = view.notice?.tone ?? "neutral";
  }

  renderScopes(account, status) {
    const requested = asArray(account.requested_scopes);
    const granted = asArray(account.granted_scopes);
    const grantedSet = new Set(granted);

    let label;
    let chips;
    if (status === "pending" && granted.length === 0) {
      label = requested.length ? "Requesting" : "";
      chips = requested.map((scope) => ({ scope, variant: "requested" }));
    } else {
      const hasGrant = granted.length > 0 || status === "active";
      const missing = hasGrant ? requested.filter((scope) => !grantedSet.has(scope)) : [];
      label = granted.length || missing.length ? "Granted" : "";
      chips = [
        ...granted.map((scope) => ({ scope, variant: "granted" })),
        ...missing.map((scope) => ({ scope, variant: "missing" })),
      ];
      if (!label && status !== "pending") label = "No access granted";
    }

    this.scopesLabel.textContent = label;
    this.scopeBlock.hidden = label === "";
    this.scopes.hidden = chips.length === 0;
    this.scopes.setAttribute("aria-label", label || "Scopes");
    replaceIfChanged(this.scopes, JSON.stringify(chips), () =>
      chips.map(({ scope, variant }) => scopeChip(scope, { variant })),
    );
  }

  focusCancel() {
    this.cancelButton.focus();
  }

  focusRevoke() {
    if (!this.revokeButton.hidden) this.revokeButton.focus();
  }

  focusNotice() {
    if (!this.notice.hidden) this.notice.focus({ preventScroll: true });
  }
}

/** Loading / error / empty block shown in place of a list. */
function sectionState(kind, { title, text, testid, retry, emptyFor } = {}) {
  const el = h(
    "div",
    {
      class: `state state-${kind}`,
      "data-testid": testid ?? null,
      "data-empty": emptyFor ?? null,
    },
    kind === "loading" ? h("span", { class: "spinner", "aria-hidden": "true" }) : null,
    title ? h("p", { class: "state-title" }, title) : null,
    text ? h("p", { class: "state-text" }, text) : null,
    retry ? h("button", { class: "btn btn-secondary btn-small", type: "button", onclick: retry }, "Try again") : null,
  );
  return el;
}

/* ------------------------------------------------------------------------ */
/* 5. Rendering                                                             */
/* ------------------------------------------------------------------------ */

/** @type {Map<string, ConnectionCard>} */
const connectionCards = new Map();
/** @type {Map<string, AccountRow>} */
const accountRows = new Map();

/**
 * Keyed reconciliation: reuses components by id, removes stale ones and only
 * moves nodes that are out of order (moving a node would drop its focus).
 */
function reconcile(container, items, cache, create, update) {
  const seen = new Set();
  for (const item of items) {
    seen.add(item.id);
    let component = cache.get(item.id);
    if (!component) {
      component = create(item);
      cache.set(item.id, component);
    }
    update(component, item);
  }
  for (const [id, component] of cache) {
    if (!seen.has(id)) {
      component.el.remove();
      cache.delete(id);
    }
  }
  let expected = container.firstElementChild;
  for (const item of items) {
    const el = cache.get(item.id).el;
    if (el !== expected) container.insertBefore(el, expected);
    else expected = expected.nextElementSibling;
  }
}

function validItems(list) {
  const seen = new Set();
  return (Array.isArray(list) ? list : []).filter((item) => {
    if (!item || typeof item !== "object" || typeof item.id !== "string" || seen.has(item.id)) return false;
    seen.add(item.id);
    return true;
  });
}

function renderConnections() {
  const { status, error } = state.connections;
  const items = status === "ready" ? validItems(state.connections.items) : [];
  const pendingByConnection = new Map();
  for (const account of state.accounts.items) {
    if (account.status === "pending") {
      pendingByConnection.set(account.connection_id, (pendingByConnection.get(account.connection_id) ?? 0) + 1);
    }
  }

  reconcile(
    byId("connections"),
    items,
    connectionCards,
    (connection) => new ConnectionCard(connection),
    (card, connection) =>
      card.update(connection, {
        connecting: state.connecting.has(connection.id),
        error: state.connectErrors.get(connection.id) ?? null,
        waitingCount: pendingByConnection.get(connection.id) ?? 0,
      }),
  );

  const slot = byId("connections-state");
  const key = `${status}|${items.length === 0}|${error ?? ""}`;
  if (slot.dataset.key === key) return;
  slot.dataset.key = key;
  if (status === "loading") slot.replaceChildren(sectionState("loading", { text: "Loading connections…" }));
  else if (status === "error") {
    slot.replaceChildren(
      sectionState("error", {
        title: TEXT.loadConnectionsFailed,
        text: error,
        retry: () => actions.loadConnections(),
      }),
    );
  } else if (status === "unavailable") {
    slot.replaceChildren(sectionState("muted", { text: "Connections appear here when Latchkey is running." }));
  } else if (items.length === 0) {
    slot.replaceChildren(
      sectionState("empty", {
        title: TEXT.noConnectionsTitle,
        text: TEXT.noConnections,
        testid: "empty",
        emptyFor: "connections",
      }),
    );
  } else slot.replaceChildren();
}

function renderAccounts() {
  const { status, error } = state.accounts;
  const items = status === "ready" ? validItems(state.accounts.items) : [];
  const connectionsById = new Map(validItems(state.connections.items).map((c) => [c.id, c]));

  reconcile(
    byId("accounts"),
    items,
    accountRows,
    (account) => new AccountRow(account),
    (row, account) => {
      const connection = connectionsById.get(account.connection_id);
      row.update(account, {
        confirming: state.confirmingRevoke.has(account.id),
        revoking: state.revoking.has(account.id),
        notice: state.revokeNotices.get(account.id) ?? null,
        canReconnect:
          (["expired", "error", "revoked"].includes(account.status) ||
            (account.status === "pending" && !account.signing_in)) &&
          connection?.status === "active",
        reconnecting: state.connecting.has(account.connection_id),
      });
    },
  );

  const count = byId("accounts-count");
  count.textContent = String(items.length);
  count.hidden = status !== "ready" || items.length === 0;
  byId("refresh-accounts").hidden = status === "unavailable" || status === "loading";

  const slot = byId("accounts-state");
  const key = `${status}|${items.length === 0}|${error ?? ""}`;
  if (slot.dataset.key === key) return;
  slot.dataset.key = key;
  if (status === "loading") slot.replaceChildren(sectionState("loading", { text: "Loading accounts…" }));
  else if (status === "error") {
    slot.replaceChildren(
      sectionState("error", {
        title: TEXT.loadAccountsFailed,
        text: error,
        retry: () => actions.loadAccounts(),
      }),
    );
  } else if (status === "unavailable") {
    slot.replaceChildren(sectionState("muted", { text: "Your connected accounts appear here when Latchkey is running." }));
  } else if (items.length === 0) {
    slot.replaceChildren(sectionState("empty", { text: TEXT.noAccounts, testid: "empty", emptyFor: "accounts" }));
  } else slot.replaceChildren();
}

/** Drops UI-only state that no longer applies to the current data. */
function pruneViewState() {
  const accounts = new Map(state.accounts.items.map((a) => [a.id, a]));
  for (const id of state.confirmingRevoke) {
    if (accounts.get(id)?.status !== "active" && !state.revoking.has(id)) state.confirmingRevoke.delete(id);
  }
  if (state.accounts.status === "ready") {
    for (const id of state.revokeNotices.keys()) if (!accounts.has(id)) state.revokeNotices.delete(id);
  }
}

function render() {
  pruneViewState();
  renderConnections();
  renderAccounts();
}

/* ------------------------------------------------------------------------ */
/* 6. Actions                                                               */
/* ------------------------------------------------------------------------ */

/** Inserts or replaces one account, unless what we hold is already newer. */
function upsertAccount(account) {
  if (!account || typeof account !== "object" || typeof account.id !== "string") return;
  const items = state.accounts.items;
  const index = items.findIndex((a) => a.id === account.id);
  if (index === -1) {
    state.accounts.items = [...items, account];
    return;
  }
  const held = Date.parse(items[index].updated_at);
  const incoming = Date.parse(account.updated_at);
  if (!Number.isNaN(held) && !Number.isNaN(incoming) && incoming < held) return;
  state.accounts.items = items.map((a, i) => (i === index ? account : a));
}

function findConnection(id) {
  return state.connections.items.find((c) => c && c.id === id) ?? null;
}

function findAccount(id) {
  return state.accounts.items.find((a) => a && a.id === id) ?? null;
}

const actions = {
  async loadConnections() {
    state.connections = { status: "loading", items: [], error: null };
    render();
    try {
      const items = await invoke("list_connections");
      state.connections = { status: "ready", items: validItems(items), error: null };
    } catch (error) {
      state.connections = { status: "error", items: [], error: messageOf(error, TEXT.loadConnectionsFailed) };
    }
    render();
  },

  async loadAccounts() {
    const version = state.accountsVersion;
    const refreshButton = byId("refresh-accounts");
    refreshButton.disabled = true;
    if (state.accounts.status !== "ready") {
      state.accounts = { status: "loading", items: [], error: null };
      render();
    }
    try {
      const items = await invoke("list_accounts");
      // An accounts-changed event that arrived meanwhile is at least as fresh.
      if (version === state.accountsVersion) {
        state.accounts = { status: "ready", items: validItems(items), error: null };
      }
    } catch (error) {
      if (state.accounts.status !== "ready") {
        state.accounts = { status: "error", items: [], error: messageOf(error, TEXT.loadAccountsFailed) };
      } else {
        announce(messageOf(error, TEXT.loadAccountsFailed));
      }
    }
    refreshButton.disabled = false;
    render();
  },

  /** Starts sign-in for a connection; the outcome arrives later as events. */
  async connect(connectionId, rawIdentifier) {
    const connection = findConnection(connectionId);
    if (!connection || connection.status !== "active" || state.connecting.has(connectionId)) return;
    const identifier = nonEmpty(rawIdentifier);
    const name = nonEmpty(connection.name) ?? connectionId;

    state.connectErrors.delete(connectionId);
    state.connecting.add(connectionId);
    render();
    announce(`Opening your browser to sign in to ${name}…`);

    try {
      const account = await invoke("connect", { connectionId, identifier });
      upsertAccount(account);
      connectionCards.get(connectionId)?.clearIdentifier();
      announce(TEXT.waitingForBrowser);
    } catch (error) {
      const message = messageOf(error, TEXT.connectFailed);
      state.connectErrors.set(connectionId, message);
      announce(message);
    } finally {
      state.connecting.delete(connectionId);
      render();
    }
  },

  reconnect(accountId) {
    const account = findAccount(accountId);
    if (!account) return;
    actions.connect(account.connection_id, account.identifier);
  },

  dismissConnectError(connectionId) {
    state.connectErrors.delete(connectionId);
    render();
    connectionCards.get(connectionId)?.input.focus();
  },

  askRevoke(accountId) {
    if (findAccount(accountId)?.status !== "active") return;
    state.confirmingRevoke.add(accountId);
    state.revokeNotices.delete(accountId);
    render();
    accountRows.get(accountId)?.focusCancel();
  },

  cancelRevoke(accountId) {
    state.confirmingRevoke.delete(accountId);
    render();
    accountRows.get(accountId)?.focusRevoke();
  },

  async confirmRevoke(accountId) {
    if (state.revoking.has(accountId)) return;
    state.revoking.add(accountId);
    render();

    let notice;
    try {
      const result = await invoke("revoke", { accountId });
      if (result && typeof result === "object") upsertAccount(result.account);
      const confirmed = Boolean(result?.provider_confirmed);
      notice = {
        text: nonEmpty(result?.message) ?? (confirmed ? "Access revoked." : "Tokens deleted from this device."),
        tone: confirmed ? "success" : "warning",
      };
    } catch (error) {
      notice = { text: messageOf(error, TEXT.revokeFailed), tone: "danger" };
    }

    state.revokeNotices.set(accountId, notice);
    state.revoking.delete(accountId);
    state.confirmingRevoke.delete(accountId);
    render();
    announce(notice.text);
    // Focus was on the confirmation, which is gone now: move it to the outcome.
    const row = accountRows.get(accountId);
    const focus = document.activeElement;
    if (row && (!focus || focus === document.body || row.el.contains(focus))) row.focusNotice();
  },
};

/* ------------------------------------------------------------------------ */
/* 7. Backend events                                                        */
/* ------------------------------------------------------------------------ */

function onAccountsChanged(payload) {
  if (!Array.isArray(payload)) return;
  state.accountsVersion += 1;
  state.accounts = { status: "ready", items: validItems(payload), error: null };
  render();
}

function onConnectFailed(payload) {
  if (!payload || typeof payload !== "object") return;
  const connectionId = typeof payload.connection_id === "string" ? payload.connection_id : null;
  const message = nonEmpty(payload.message) ?? "Signing in didn’t finish. Please try again.";
  // A link for no known connection (forged, or from an old sign-in) still deserves a word.
  if (connectionId && connectionCards.has(connectionId)) state.connectErrors.set(connectionId, message);
  else showBanner("A sign-in link was ignored", message, "warning");
  render();
  announce(message);
}

function onConnectSucceeded(payload) {
  if (!payload || typeof payload !== "object") return;
  upsertAccount(payload);
  if (typeof payload.connection_id === "string") state.connectErrors.delete(payload.connection_id);
  render();
  const who = nonEmpty(payload.identity?.email) ?? nonEmpty(payload.identifier) ?? "Your account";
  const where = nonEmpty(payload.connection_name);
  announce(where ? `Connected ${who} at ${where}.` : `Connected ${who}.`);
}

/** Wraps an event handler so a bug in one update can never break the window. */
function guarded(handler) {
  return (payload) => {
    try {
      handler(payload);
    } catch (error) {
      console.error("Latchkey UI: failed to handle an update", error);
      showBanner("Something went wrong", TEXT.unexpected);
    }
  };
}

/* ------------------------------------------------------------------------ */
/* 8. Boot                                                                  */
/* ------------------------------------------------------------------------ */

async function boot() {
  byId("refresh-accounts").addEventListener("click", () => actions.loadAccounts());

  if (!isTauriAvailable()) {
    state.connections = { status: "unavailable", items: [], error: null };
    state.accounts = { status: "unavailable", items: [], error: null };
    showBanner(TEXT.notInAppTitle, TEXT.notInApp, "warning");
    render();
    return;
  }

  render();

  // Subscribe first so no update is missed between the initial load and the listeners.
  const subscriptions = await Promise.allSettled([
    listen("accounts-changed", guarded(onAccountsChanged)),
    listen("connect-failed", guarded(onConnectFailed)),
    listen("connect-succeeded", guarded(onConnectSucceeded)),
  ]);
  if (subscriptions.some((s) => s.status === "rejected")) {
    showBanner("Live updates are off", TEXT.listenFailed, "warning");
  }

  await Promise.all([actions.loadConnections(), actions.loadAccounts()]);

  // Keep “Updated 3 minutes ago” honest.
  window.setInterval(render, 30_000);
}

boot().catch((error) => {
  console.error("Latchkey UI: failed to start", error);
  showBanner("Latchkey couldn’t start this window", TEXT.unexpected);
});
