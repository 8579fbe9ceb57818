import { describe, expect, it } from 'vitest';
import { idProblem, issuerProblem, parseScopes, suggestId } from './custom';

describe('custom connection rules', () => {
  it('suggests a valid name from a display name', () => {
    expect(suggestId('Acme SSO (work)')).toBe('acme-sso-work');
    expect(suggestId('  Zürich Über-Cloud ')).toBe('zurich-uber-cloud');
    expect(suggestId('---')).toBe('');
    expect(suggestId('a'.repeat(70))).toHaveLength(64);
    for (const name of ['Acme SSO', 'Zürich', 'x'.repeat(63) + ' y']) {
      const id = suggestId(name);
      expect(idProblem(id)).toBeNull();
    }
  });

  it('explains a name the backend would refuse', () => {
    expect(idProblem('acme-sso')).toBeNull();
    expect(idProblem('')).toMatch(/^Enter a name/);
    expect(idProblem('-acme')).toMatch(/starting with a letter or digit\. Try “acme”\.$/);
    expect(idProblem('Acme_SSO')).toMatch(/Try “acme-sso”\.$/);
    expect(idProblem('acme', ['acme'])).toBe('There already is a connection named “acme”. Choose another name.');
    expect(idProblem('a'.repeat(65))).toMatch(/too long/);
  });

  it('accepts only an https issuer URL', () => {
    expect(issuerProblem('https://login.example.com/realms/x')).toBeNull();
    expect(issuerProblem('')).toMatch(/^Enter the issuer URL/);
    expect(issuerProblem('login.example.com')).toMatch(/is not a web address/);
    expect(issuerProblem('http://login.example.com')).toBe('The issuer URL must start with https://.');
    expect(issuerProblem('https://login.example.com/?a=1')).toMatch(/without a query/);
  });

  it('splits scopes on spaces, each once', () => {
    expect(parseScopes('  openid email\tprofile openid ')).toEqual(['openid', 'email', 'profile']);
    expect(parseScopes('   ')).toEqual([]);
  });
});
