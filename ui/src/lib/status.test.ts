import { describe, expect, it } from 'vitest';
import { account, connection, demo, gmail } from '../test/backend';
import type { AccountStatusDto } from './bindings/AccountStatusDto';
import type { AuditAction } from './bindings/AuditAction';
import {
  actionWords,
  actorWords,
  attentionFor,
  BADGES,
  badgeFor,
  canReconnect,
  connectionProblem,
  identityLine,
  needsSetup,
  revocationWords,
  scopeRows,
  splitRedirectUri,
} from './status';

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
    expect(actionWords('connection.added')).toBe('Connection added');
    expect(actionWords('something.new' as AuditAction)).toBe('something.new');
    expect(actorWords('cli', 'deploy.sh')).toBe('Command line (deploy.sh)');
    expect(actorWords('user', null)).toBe('You');
  });

  it('does not repeat the identifier in the identity line', () => {
    expect(identityLine(account())).toBe('Alice Example');
    expect(identityLine(account({ identifier: 'work' }))).toBe('Alice Example · alice@example.test');
  });

  it('says what a connection is missing, and how revoking works at its provider', () => {
    expect(connectionProblem(demo())).toBeNull();
    expect(connectionProblem(gmail())).toBe('Gmail needs the client ID and client secret of your own Google client first.');
    expect(connectionProblem(gmail({ client_id: 'x' }))).toBe('Gmail needs the client secret of your Google client too.');
    expect(connectionProblem(gmail({ status: 'inactive' }))).toMatch(/^Gmail is turned off\./);
    expect(needsSetup(gmail())).toBe(true);
    expect(needsSetup(connection({ kind: 'api-key', status: 'pending' }))).toBe(false);
    expect(revocationWords(gmail())).toMatch(/^Revoking asks Google to end access/);
    expect(revocationWords(demo())).toMatch(/^Demo has no way for apps to revoke access: Latchkey deletes the tokens and links you to its page/);
    expect(revocationWords(connection({ revocation: null }))).toBeNull();
    expect(splitRedirectUri('http://127.0.0.1/oauth/gmail/callback (any port)')).toEqual({ uri: 'http://127.0.0.1/oauth/gmail/callback', note: 'any port' });
    expect(splitRedirectUri('io.latchkey.desktop:/oauth/x/callback')).toEqual({ uri: 'io.latchkey.desktop:/oauth/x/callback', note: null });
  });
});
