import { describe, expect, it } from 'vitest';
import { account } from '../test/backend';
import type { AccountStatusDto } from './bindings/AccountStatusDto';
import { actionWords, actorWords, attentionFor, BADGES, badgeFor, canReconnect, identityLine, scopeRows } from './status';

const STATUSES: AccountStatusDto[] = ['pending', 'active', 'expired', 'revoked', 'error', 'suspended'];

describe('status table', () => {
  it('has words and a colour for every state, and the issue’s words', () => {
    expect(Object.fromEntries(Object.entries(BADGES).map(([k, b]) => [k, b.label]))).toEqual({
      active: 'Active',
      pending: 'Pending',
      expired: 'Expired — reconnect',
      revoked: 'Revoked',
      error: 'Error',
      suspended: 'Suspended',
      offline: 'Offline — retrying',
    });
    for (const status of STATUSES) expect(badgeFor(account({ status })).label).toBe(BADGES[status].label);
    expect(new Set(Object.values(BADGES).map((b) => b.tone)).size).toBe(7);
  });

  it('says which accounts need attention and the one thing to do', () => {
    expect(attentionFor(account())).toBeNull();
    expect(attentionFor(account({ status: 'revoked' }))).toBeNull();
    expect(attentionFor(account({ status: 'expired' }))).toMatchObject({ action: 'reconnect', actionLabel: 'Reconnect' });
    expect(attentionFor(account({ status: 'error', last_error: 'Bad token.' }))).toMatchObject({ reason: 'Bad token.' });
    expect(attentionFor(account({ reauth_needed: true }))).toMatchObject({ action: 'reauthorize', actionLabel: 'Re-authorize' });
    expect(canReconnect(account({ status: 'pending', signing_in: true }))).toBe(false);
    expect(canReconnect(account({ status: 'pending', signing_in: false }))).toBe(true);
  });

  it('compares requested and granted scopes', () => {
    expect(scopeRows(account({ requested_scopes: ['a', 'b'], granted_scopes: ['b', 'c'] }))).toEqual([
      { scope: 'a', state: 'missing' },
      { scope: 'b', state: 'granted' },
      { scope: 'c', state: 'extra' },
    ]);
    expect(scopeRows(account({ status: 'pending', requested_scopes: ['a'], granted_scopes: [] }))).toEqual([{ scope: 'a', state: 'requested' }]);
    expect(scopeRows(account({ status: 'revoked', requested_scopes: ['a'], granted_scopes: [] }))).toEqual([{ scope: 'a', state: 'revoked' }]);
    expect(scopeRows(account({ status: 'revoked', requested_scopes: ['a', 'b'], granted_scopes: ['b'] }))).toEqual([{ scope: 'b', state: 'revoked' }]);
    expect(scopeRows(account({ status: 'expired', requested_scopes: ['a'], granted_scopes: [] }))).toEqual([{ scope: 'a', state: 'requested' }]);
  });

  it('words audit entries for people', () => {
    expect(actionWords('token.revoked')).toBe('Access revoked');
    expect(actionWords('something.new')).toBe('something.new');
    expect(actorWords('cli', 'deploy.sh')).toBe('Command line (deploy.sh)');
    expect(actorWords('user', null)).toBe('You');
  });

  it('does not repeat the identifier in the identity line', () => {
    expect(identityLine(account())).toBe('Alice Example');
    expect(identityLine(account({ identifier: 'work' }))).toBe('Alice Example · alice@example.test');
  });
});
