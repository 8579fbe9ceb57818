// What the account list shows for each account, worked out once per account object. The backend
// sends fresh objects whenever something changes and the window never alters them (the list is
// `$state.raw`), so a cache keyed by the object stays right, and a list of 1,000 accounts costs one
// pass instead of one per row render, per sort comparison and per keystroke in the search field.
import type { AccountDto } from './bindings/AccountDto';
import {
  attentionFor,
  badgeFor,
  canReconnect,
  displayName,
  identityLine,
  reconnectLabel,
  scopeRows,
  type Attention,
  type Badge,
  type ScopeRow,
} from './status';

export type AccountRowView = {
  name: string;
  badge: Badge;
  /** Name and email when they add something to the name; '' when not. */
  identity: string;
  scopes: ScopeRow[];
  grantedLabel: string;
  attention: Attention | null;
  /** "Reconnect" / "Connect again" for an account that needs no attention but can reconnect. */
  reconnect: string | null;
};

const views = new WeakMap<AccountDto, AccountRowView>();

export function rowView(account: AccountDto): AccountRowView {
  let view = views.get(account);
  if (!view) {
    const scopes = scopeRows(account);
    const attention = attentionFor(account);
    view = {
      name: displayName(account),
      badge: badgeFor(account),
      identity: identityLine(account),
      scopes,
      grantedLabel:
        account.status === 'revoked' ? 'Had access' : scopes.some((r) => r.state === 'requested') ? 'Asking for' : 'Granted access',
      attention,
      reconnect: !attention && canReconnect(account) ? reconnectLabel(account) : null,
    };
    views.set(account, view);
  }
  return view;
}

const searchTexts = new WeakMap<AccountDto, string>();

/**
 * Everything the search field looks in (identifier, email, name, provider, labels), lowercased,
 * one item a line: `searchText(a).includes(q)` for a query `q` without line breaks.
 */
export function searchText(account: AccountDto): string {
  let text = searchTexts.get(account);
  if (text === undefined) {
    text = [account.identifier, account.identity?.email, account.identity?.name, account.connection_name, ...account.labels]
      .filter((s): s is string => Boolean(s))
      .join('\n')
      .toLowerCase();
    searchTexts.set(account, text);
  }
  return text;
}

const collator = new Intl.Collator();

/** `a.localeCompare(b)` with one collator made once. */
export function compareText(a: string, b: string): number {
  return collator.compare(a, b);
}

/** The accounts sorted by display name, each name worked out once rather than per comparison. */
export function sortByName(accounts: readonly AccountDto[]): AccountDto[] {
  return accounts
    .map((account) => ({ account, name: displayName(account) }))
    .sort((x, y) => compareText(x.name, y.name))
    .map((x) => x.account);
}
