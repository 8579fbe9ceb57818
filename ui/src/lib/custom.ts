// The custom-connection form's rules, as the backend applies them (`ConnectionId::new` in
// latchkey-core): checked in the window first so a mistake is explained before anything is sent.

export const ID_MAX = 64;
export const DEFAULT_SCOPES = 'openid email profile';

/** A connection name suggested from a display name: "Acme SSO (work)" → "acme-sso-work". */
export function suggestId(displayName: string): string {
  return displayName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, ID_MAX)
    .replace(/-+$/, '');
}

/**
 * Why `id` cannot name a connection, as a sentence (with a valid suggestion when there is one);
 * null when it can. `taken` are the names already in use.
 */
export function idProblem(id: string, taken: readonly string[] = []): string | null {
  if (id === '') return 'Enter a name for the connection, in lowercase letters, digits and dashes, such as “acme-sso”.';
  const valid = id.length <= ID_MAX && /^[a-z0-9][a-z0-9-]*$/.test(id);
  if (!valid) {
    const better = suggestId(id);
    const hint = better && better !== id && !taken.includes(better) ? ` Try “${better}”.` : '';
    if (id.length > ID_MAX) return `The name is too long: use at most ${ID_MAX} characters.${hint}`;
    return `“${id}” cannot be used as a name: use only lowercase letters, digits and dashes, starting with a letter or digit.${hint}`;
  }
  if (taken.includes(id)) return `There already is a connection named “${id}”. Choose another name.`;
  return null;
}

/** Why `issuer` is not an issuer URL Latchkey can discover, as a sentence; null when it is. */
export function issuerProblem(issuer: string): string | null {
  if (issuer === '') return 'Enter the issuer URL of the provider, such as https://login.example.com.';
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return `“${issuer}” is not a web address. Enter the issuer URL, such as https://login.example.com.`;
  }
  if (url.protocol !== 'https:') return 'The issuer URL must start with https://.';
  if (url.username || url.password) return 'The issuer URL must not contain a user name or password.';
  if (url.search || url.hash) return 'Enter the issuer URL without a query (?…) or fragment (#…).';
  return null;
}

/** Space-separated scopes as a list, each once, in the order typed. */
export function parseScopes(text: string): string[] {
  return [...new Set(text.split(/\s+/).filter((s) => s !== ''))];
}
