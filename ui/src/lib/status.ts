// Presentation tables: what each state is called, its colour, and what the person can do about it.
// Words and colour always go together (colour is never the only signal).
import type { AccessDto } from './bindings/AccessDto';
import type { AccountDto } from './bindings/AccountDto';
import type { AccountStatusDto } from './bindings/AccountStatusDto';
import type { AuditAction } from './bindings/AuditAction';
import type { AuditOutcome } from './bindings/AuditOutcome';
import type { ConnectionDto } from './bindings/ConnectionDto';
import type { ConnectionKindDto } from './bindings/ConnectionKindDto';
import type { ConnectionStatusDto } from './bindings/ConnectionStatusDto';
import type { ConsentPurposeDto } from './bindings/ConsentPurposeDto';

export type Tone = 'success' | 'pending' | 'warning' | 'neutral' | 'danger' | 'suspended' | 'offline';

/**
 * What a row shows. The core's six states, plus states the core will report through extra DTO
 * fields (refresh failing for a reason that may pass: "Offline — retrying"). A new one is a line
 * here and a case in `displayState`.
 */
export type DisplayState = AccountStatusDto | 'offline';

export type Badge = {
  label: string;
  tone: Tone;
  /** One sentence for screen readers and tooltips. */
  description: string;
};

export const BADGES: Record<DisplayState, Badge> = {
  active: { label: 'Active', tone: 'success', description: 'Connected and working.' },
  pending: { label: 'Pending', tone: 'pending', description: 'The sign-in has not finished yet.' },
  expired: {
    label: 'Expired — reconnect',
    tone: 'warning',
    description: 'Its access expired. Reconnect to use it again.',
  },
  revoked: { label: 'Revoked', tone: 'neutral', description: 'Access was revoked; no tokens are kept.' },
  error: { label: 'Error', tone: 'danger', description: 'It stopped working. Reconnect to fix it.' },
  suspended: {
    label: 'Suspended',
    tone: 'suspended',
    description: 'Paused: Latchkey keeps its tokens but does not hand them out.',
  },
  offline: {
    label: 'Offline — retrying',
    tone: 'offline',
    description: 'The provider cannot be reached right now; Latchkey keeps trying.',
  },
};

/** The display state of an account: its status, or "offline" while refreshes fail for a passing reason. */
export function displayState(account: AccountDto): DisplayState {
  return account.status === 'active' && account.offline ? 'offline' : account.status;
}

export function badgeFor(account: AccountDto): Badge {
  return BADGES[displayState(account)] ?? BADGES.error;
}

export type Attention = { reason: string; action: 'reconnect' | 'reauthorize'; actionLabel: string };

/**
 * Why an account needs the person, and the one thing to do, or null. The tray's summary counts
 * the same accounts (`crates/latchkey-core/src/attention.rs`).
 */
export function attentionFor(account: AccountDto): Attention | null {
  switch (account.status) {
    case 'expired':
      return { reason: 'Its access expired.', action: 'reconnect', actionLabel: 'Reconnect' };
    case 'error':
      return {
        reason: account.last_error?.trim() || 'It stopped working.',
        action: 'reconnect',
        actionLabel: 'Reconnect',
      };
    case 'active':
      return account.reauth_needed
        ? {
            reason: `${account.connection_name} now asks for different access.`,
            action: 'reauthorize',
            actionLabel: 'Re-authorize',
          }
        : null;
    default:
      return null;
  }
}

/** Whether "Connect again" / "Reconnect" makes sense for this account. */
export function canReconnect(account: AccountDto): boolean {
  return (
    account.status === 'expired' ||
    account.status === 'error' ||
    account.status === 'revoked' ||
    (account.status === 'pending' && !account.signing_in)
  );
}

export function reconnectLabel(account: AccountDto): string {
  if (account.status === 'active') return 'Re-authorize';
  if (account.status === 'revoked' || account.status === 'pending') return 'Connect again';
  return 'Reconnect';
}

export const CONNECTION_STATUS: Record<ConnectionStatusDto, Badge> = {
  active: { label: 'Ready', tone: 'success', description: 'Ready to connect accounts.' },
  inactive: { label: 'Turned off', tone: 'neutral', description: 'Turned off in Settings → Connections.' },
  pending: { label: 'Not set up', tone: 'pending', description: 'It needs your own client from the provider first.' },
  error: { label: 'Error', tone: 'danger', description: 'The provider rejected Latchkey’s client.' },
};

/**
 * What is missing before a connection can connect accounts, as a sentence with a next step; null
 * when it is ready.
 */
export function connectionProblem(connection: ConnectionDto): string | null {
  switch (connection.status) {
    case 'active':
      return null;
    case 'inactive':
      return `${connection.name} is turned off. Turn it on in Settings → Connections to connect accounts.`;
    case 'error':
      return `${connection.error?.trim() || `${connection.provider} rejected this connection’s client.`} Check its client ID${connection.takes_client_secret ? ' and secret' : ''}, then try again.`;
    case 'pending':
      if (connection.kind !== 'oauth2') return `${connection.name} is not set up yet.`;
      if (!connection.client_id?.trim()) {
        return connection.needs_client_secret
          ? `${connection.name} needs the client ID and client secret of your own ${connection.provider} client first.`
          : `${connection.name} needs the client ID of your own ${connection.provider} client first.`;
      }
      if (connection.needs_client_secret && !connection.client_secret_stored) {
        return `${connection.name} needs the client secret of your ${connection.provider} client too.`;
      }
      return `${connection.name} is not set up yet.`;
  }
}

/** Whether the setup form (client id and secret) is the way forward for this connection. */
export function needsSetup(connection: ConnectionDto): boolean {
  return connection.kind === 'oauth2' && (connection.status === 'pending' || connection.status === 'error');
}

/** How revoking works at this connection's provider, in plain words; null when not known. */
export function revocationWords(connection: ConnectionDto): string | null {
  if (!connection.revocation) return null;
  if (connection.revocation === 'none') {
    return `${connection.provider} has no way for apps to revoke access: Latchkey deletes the tokens and links you to its page, where you remove Latchkey’s access yourself.`;
  }
  return `Revoking asks ${connection.provider} to end access, then Latchkey deletes the tokens from this device.`;
}

/** The redirect URI to register, split from a note such as "(any port)". */
export function splitRedirectUri(uri: string): { uri: string; note: string | null } {
  const m = /^(\S+)\s+\((.+)\)$/.exec(uri.trim());
  return m ? { uri: m[1]!, note: m[2]! } : { uri: uri.trim(), note: null };
}

/** Catalog order: by provider, then by name. */
export function byProvider(a: ConnectionDto, b: ConnectionDto): number {
  return a.provider.localeCompare(b.provider) || a.name.localeCompare(b.name);
}

export const CONNECTION_KIND: Record<ConnectionKindDto, string> = {
  oauth2: 'OAuth 2.0 sign-in',
  'api-key': 'API key',
  'basic-auth': 'Username and password',
};

/** Audit actions in words: every action the core writes (a missing one fails the type check). */
const ACTIONS: Record<AuditAction, string> = {
  'account.created': 'Account added',
  'account.deleted': 'Account deleted',
  'account.reauthorized': 'Re-authorized',
  'authorization.started': 'Sign-in started',
  'authorization.failed': 'Sign-in failed',
  'state.changed': 'Status changed',
  'token.stored': 'Tokens stored in the keychain',
  'token.read': 'Credential handed out',
  'token.revoked': 'Access revoked',
  'token.refreshed': 'Access refreshed',
  'token.refresh_failed': 'Refresh failed',
  'token.deleted': 'Tokens deleted from the keychain',
  'credential.rotated': 'Credential replaced',
  'metadata.labels': 'Labels changed',
  'metadata.note': 'Note changed',
  'config.scopes_changed': 'Requested access changed',
  'connection.error': 'Connection rejected',
  'connection.recovered': 'Connection working again',
  'connection.added': 'Connection added',
  'connection.configured': 'Connection settings changed',
  'connection.removed': 'Connection removed',
  reconciled: 'Repaired after an interruption',
  'grant.added': 'App or agent allowed',
  'grant.removed': 'App or agent no longer allowed',
  'api.call': 'API called for an app or agent',
  'policy.changed': 'Token hand-out policy changed',
  'credential.refused': 'Credential refused by a server',
  'consent.asked': 'App or agent asked to use the account',
};

/** A grant's or a consent question's access, as the person reads it. */
export const ACCESS_WORDS: Record<AccessDto, string> = {
  read: 'Read only (GET)',
  full: 'Full (any request, changes too)',
};

/** What a program asking for consent wants the account for. */
export const PURPOSE_WORDS: Record<ConsentPurposeDto, string> = {
  api_call: 'Call its API through Latchkey (the token stays in Latchkey)',
  token: 'Take its access token or credential',
};

export function actionWords(action: AuditAction): string {
  return ACTIONS[action] ?? action;
}

export function actorWords(actor: string, caller: string | null): string {
  switch (actor) {
    case 'user':
      return 'You';
    case 'provider':
      return 'The provider';
    case 'system':
      return 'Latchkey';
    case 'refresher':
      return 'Background refresh';
    case 'cli':
      return caller ? `Command line (${caller})` : 'Command line';
    default:
      return actor;
  }
}

export function outcomeTone(outcome: AuditOutcome): Tone {
  if (outcome === 'ok') return 'success';
  if (outcome === 'unconfirmed') return 'warning';
  return 'danger';
}

const OUTCOMES: Record<AuditOutcome, string> = {
  ok: 'Done',
  unconfirmed: 'Not confirmed',
  failed: 'Failed',
  refused: 'Refused',
  transient: 'Failed for now; will retry',
};

export function outcomeWords(outcome: AuditOutcome): string {
  return OUTCOMES[outcome] ?? outcome;
}

/** The name to show for an account: its email or name when known, else its identifier. */
export function displayName(account: AccountDto): string {
  return account.identifier.trim() || account.identity?.email || account.identity?.name || 'Unnamed account';
}

/** A second line: name and email when they add something to the identifier. */
export function identityLine(account: AccountDto): string {
  const id = displayName(account);
  const parts = [account.identity?.name, account.identity?.email]
    .map((p) => p?.trim())
    .filter((p): p is string => Boolean(p) && p !== id);
  return [...new Set(parts)].join(' · ');
}

export type ScopeRow = { scope: string; state: 'granted' | 'missing' | 'extra' | 'requested' | 'revoked' };

/**
 * Requested against granted: `missing` is a scope asked for and not granted (a partial grant),
 * `extra` one granted without being asked for, `requested` one still waiting for a sign-in, and
 * `revoked` one the account had before its access was revoked.
 */
export function scopeRows(account: AccountDto): ScopeRow[] {
  if (account.status === 'revoked') {
    const had = account.granted_scopes.length > 0 ? account.granted_scopes : account.requested_scopes;
    return had.map((scope) => ({ scope, state: 'revoked' }));
  }
  const granted = new Set(account.granted_scopes);
  const requested = new Set(account.requested_scopes);
  const authorized = account.status !== 'pending' || account.granted_scopes.length > 0;
  if (!authorized) return account.requested_scopes.map((scope) => ({ scope, state: 'requested' }));
  const noGrantRecorded = account.granted_scopes.length === 0 && account.status !== 'active';
  if (noGrantRecorded) return account.requested_scopes.map((scope) => ({ scope, state: 'requested' }));
  return [
    ...account.requested_scopes.map((scope): ScopeRow => ({ scope, state: granted.has(scope) ? 'granted' : 'missing' })),
    ...account.granted_scopes.filter((s) => !requested.has(s)).map((scope): ScopeRow => ({ scope, state: 'extra' })),
  ];
}

export function isPartialGrant(account: AccountDto): boolean {
  return scopeRows(account).some((r) => r.state === 'missing');
}
