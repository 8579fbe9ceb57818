//! The token endpoint: redeeming an authorization code and refreshing, through the `oauth2` crate,
//! with each provider's deviations from RFC 6749 (its [`Protocol`]) handled in the transport:
//! requests sent as JSON where the provider wants it (Notion), and answers normalised back to
//! RFC 6749 §5 before `oauth2` reads them — GitHub's errors with HTTP 200, Slack's `ok: false`
//! and its user token under `authed_user`, comma-separated scopes, `expires_in` as a string.
//!
//! Failures are classified (oauth-field-notes §5):
//!
//! | signal | class |
//! |---|---|
//! | no connection, timeout, TLS failure, 5xx, 429, `server_error`, `temporarily_unavailable`, an HTML or unreadable body | `Transient` (retry later, honour `Retry-After`) |
//! | `invalid_grant` | `GrantDead` (the account is Expired: reconnect) |
//! | `interaction_required`, `invalid_rapt`, `login_required`, `consent_required` | `SignInRequired` (Expired, the user signs in again; not revoked) |
//! | `invalid_client`, `unauthorized_client` | `ClientRejected` (the connection is in error; accounts untouched) |
//! | anything else | `Unexplained` (repeated → Error) |

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType as T};
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret, HttpClientError, HttpRequest,
    HttpResponse, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
};
use serde_json::{Map, Value};

use crate::config::ProviderMetadata;
use crate::http::Http;
use crate::protocol::{ClientAuth, Dialect, Protocol, RequestFormat};
use crate::sanitize;
use crate::secret::Secret;

/// The longest `Retry-After` honoured: a provider asking for more is asked again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Who asks the token endpoint, and how.
pub struct TokenClient<'a> {
    pub http: &'a Http,
    pub metadata: &'a ProviderMetadata,
    pub protocol: &'a Protocol,
    pub client_id: &'a str,
    /// Sent only when the protocol allows a secret and one is set.
    pub client_secret: Option<&'a Secret>,
}

/// A successful answer of the token endpoint.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    /// `None` when the provider sent no new one: keep the old one.
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<Duration>,
    /// What the answer says was granted; `None` when it says nothing (RFC 6749 §5.1: as requested).
    pub scopes: Option<Vec<String>>,
}

/// What the HTTP layer saw of the token endpoint's answer, for classifying parse failures.
#[derive(Clone, Copy, Default)]
struct Seen {
    status: u16,
    retry_after: Option<Duration>,
    html: bool,
}

impl TokenClient<'_> {
    /// Redeems an authorization code (with the PKCE verifier, when the flow used one).
    pub async fn exchange_code(
        &self,
        code: &Secret,
        redirect_uri: &str,
        verifier: Option<PkceCodeVerifier>,
    ) -> Result<Tokens, TokenFailure> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| TokenFailure::Unexplained { detail: "the redirect URI is not a URL".into() })?;
        let client = self.client().set_redirect_uri(redirect);
        let code = AuthorizationCode::new(code.expose().to_owned());
        let seen = Mutex::new(Seen::default());
        let transport = Transport { client: self.http.client(), protocol: self.protocol, seen: &seen };
        let mut request = client.exchange_code(code);
        if let Some(v) = verifier {
            request = request.set_pkce_verifier(v);
        }
        let result = request.request_async(&transport).await;
        let seen = *seen.lock().unwrap_or_else(|p| p.into_inner());
        result.map(|r| self.tokens(&r)).map_err(|e| classify(e, seen))
    }

    /// The refresh-token grant.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens, TokenFailure> {
        let client = self.client();
        let seen = Mutex::new(Seen::default());
        let transport = Transport { client: self.http.client(), protocol: self.protocol, seen: &seen };
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let result = client.exchange_refresh_token(&token).request_async(&transport).await;
        let seen = *seen.lock().unwrap_or_else(|p| p.into_inner());
        result.map(|r| self.tokens(&r)).map_err(|e| classify(e, seen))
    }

    /// One poll of the token endpoint with a device code (RFC 8628 §3.4–3.5).
    pub async fn poll_device(&self, device_code: &Secret) -> DevicePoll {
        let params = vec![
            ("grant_type", DEVICE_CODE_GRANT.to_owned()),
            ("device_code", device_code.expose().to_owned()),
        ];
        let (params, auth) =
            super::device::client_authentication(params, self.protocol, self.client_id, self.client_secret);
        let mut request = self
            .http
            .client()
            .post(self.metadata.token_endpoint.clone())
            .header(http::header::ACCEPT, "application/json");
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let request = super::device::with_body(request, self.protocol.request_format, &params);
        let unreachable = || TokenFailure::Transient {
            reason: "the provider could not be reached".into(),
            retry_after: None,
        };
        // Polls are seconds apart, about as long as servers keep an idle connection (Node's 5 s):
        // a pooled connection the server just closed fails the send, so that is tried once more.
        let retry = request.try_clone();
        let sent = match request.send().await {
            Err(e) if !e.is_timeout() && retry.is_some() => {
                tracing::debug!("a device-code poll's connection failed; trying a new one");
                match retry {
                    Some(retry) => retry.send().await,
                    None => Err(e),
                }
            }
            other => other,
        };
        let Ok(response) = sent else { return DevicePoll::Failed(unreachable()) };
        let header = |name: http::header::HeaderName| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let retry_after = header(http::header::RETRY_AFTER)
            .and_then(|v| v.trim().parse().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let html = header(http::header::CONTENT_TYPE).is_some_and(|v| v.contains("html"));
        let status = response.status().as_u16();
        let max = if status >= 400 { sanitize::ERROR_BODY_MAX } else { sanitize::BODY_MAX };
        let body = match sanitize::read_body(response, max).await {
            Ok(body) | Err((body, None)) => body,
            Err((_, Some(_))) => return DevicePoll::Failed(unreachable()),
        };
        let (status, body) = normalize(self.protocol.dialect, status, body);
        let seen = Seen { status, retry_after, html };
        let unreadable = || {
            classify(
                RequestTokenError::<std::io::Error, oauth2::basic::BasicErrorResponse>::Other(
                    "not a token response".into(),
                ),
                seen,
            )
        };
        if (200..300).contains(&status) {
            return match serde_json::from_slice::<oauth2::basic::BasicTokenResponse>(&body) {
                Ok(r) => DevicePoll::Tokens(self.tokens(&r)),
                Err(_) => DevicePoll::Failed(unreadable()),
            };
        }
        let Ok(error) = serde_json::from_slice::<oauth2::basic::BasicErrorResponse>(&body) else {
            return DevicePoll::Failed(unreadable());
        };
        match error.error().as_ref() {
            "authorization_pending" => DevicePoll::Pending,
            "slow_down" => DevicePoll::SlowDown,
            // Microsoft says `authorization_declined`.
            "access_denied" | "authorization_declined" => DevicePoll::Denied,
            "expired_token" => DevicePoll::Expired,
            _ => DevicePoll::Failed(classify(
                RequestTokenError::<std::io::Error, _>::ServerResponse(error),
                seen,
            )),
        }
    }

    fn tokens(&self, r: &oauth2::basic::BasicTokenResponse) -> Tokens {
        let alias = |s: String| {
            let known = self.protocol.scope_aliases.iter().find(|(granted, _)| *granted == s);
            known.map_or(s, |(_, asked)| asked.clone())
        };
        Tokens {
            access_token: Secret::new(r.access_token().secret().as_str()),
            refresh_token: r.refresh_token().map(|t| Secret::new(t.secret().as_str())),
            expires_in: r.expires_in(),
            scopes: r.scopes().map(|s| s.iter().map(|x| alias(x.to_string())).collect()),
        }
    }

    fn client(
        &self,
    ) -> BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        let mut client = BasicClient::new(ClientId::new(self.client_id.to_owned()))
            .set_token_uri(TokenUrl::from_url(self.metadata.token_endpoint.clone()))
            .set_auth_type(match self.protocol.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Body => AuthType::RequestBody,
            });
        if let Some(secret) = self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        client
    }
}

/// RFC 8628 §3.4's grant type.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The token endpoint's answer to one device-code poll (RFC 8628 §3.5).
#[derive(Debug)]
pub enum DevicePoll {
    Tokens(Tokens),
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: ask again, 5 s later than before.
    SlowDown,
    /// `access_denied`: the user declined.
    Denied,
    /// `expired_token`: the device code is no longer valid.
    Expired,
    Failed(TokenFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    Transient { reason: String, retry_after: Option<Duration> },
    GrantDead { detail: String },
    SignInRequired { detail: String },
    ClientRejected { detail: String },
    Unexplained { detail: String },
}

impl TokenFailure {
    /// The failure as the error a sign-in reports.
    pub fn into_error(self, provider: &str) -> crate::Error {
        let provider = provider.to_owned();
        match self {
            TokenFailure::Transient { reason, .. } => crate::Error::Network { provider, detail: reason },
            TokenFailure::GrantDead { detail }
            | TokenFailure::SignInRequired { detail }
            | TokenFailure::ClientRejected { detail }
            | TokenFailure::Unexplained { detail } => crate::Error::Provider { provider, detail },
        }
    }
}

/// The reqwest client between `oauth2` and the provider: sends the request in the provider's
/// format, notes the status and a few headers of the answer, and normalises its body.
struct Transport<'a> {
    client: &'a reqwest::Client,
    protocol: &'a Protocol,
    seen: &'a Mutex<Seen>,
}

impl<'c> AsyncHttpClient<'c> for Transport<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = match self.protocol.request_format {
                RequestFormat::Form => request,
                RequestFormat::Json => form_to_json(request),
            };
            let request =
                reqwest::Request::try_from(request).map_err(|e| HttpClientError::Reqwest(Box::new(e)))?;
            let response =
                self.client.execute(request).await.map_err(|e| HttpClientError::Reqwest(Box::new(e)))?;
            let header = |name: http::header::HeaderName| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let status = response.status().as_u16();
            let retry_after = header(http::header::RETRY_AFTER)
                .and_then(|v| v.trim().parse().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            let html = header(http::header::CONTENT_TYPE).is_some_and(|v| v.contains("html"));
            *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Seen { status, retry_after, html };
            let mut parts = http::Response::new(()).into_parts().0;
            parts.status = response.status();
            parts.headers = response.headers().clone();
            parts.headers.remove(http::header::CONTENT_LENGTH);
            // An error answer is only ever reduced to a sentence: its first 64 KiB are plenty.
            let max = if status >= 400 { sanitize::ERROR_BODY_MAX } else { sanitize::BODY_MAX };
            // A longer answer is cut; it then fails to parse and is classified by its status.
            let body = match sanitize::read_body(response, max).await {
                Ok(body) | Err((body, None)) => body,
                Err((_, Some(e))) => return Err(HttpClientError::Reqwest(Box::new(e))),
            };
            let (status, body) = normalize(self.protocol.dialect, parts.status.as_u16(), body);
            parts.status = http::StatusCode::from_u16(status).unwrap_or(parts.status);
            Ok(HttpResponse::from_parts(parts, body))
        })
    }
}

/// The same parameters as a JSON object of strings (Notion takes JSON, not a form).
fn form_to_json(request: HttpRequest) -> HttpRequest {
    let (mut parts, body) = request.into_parts();
    let object: Map<String, Value> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    parts.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    parts.headers.remove(http::header::CONTENT_LENGTH);
    HttpRequest::from_parts(parts, Value::Object(object).to_string().into_bytes())
}

/// Rewrites a token-endpoint answer into RFC 6749 §5 shape. Bodies that are not a JSON object
/// pass through untouched (the classification reads their status and content type).
pub(crate) fn normalize(dialect: Dialect, status: u16, body: Vec<u8>) -> (u16, Vec<u8>) {
    let Ok(Value::Object(mut json)) = serde_json::from_slice::<Value>(&body) else {
        return (status, body);
    };
    let mut status = status;
    match dialect {
        Dialect::Standard => {}
        // GitHub reports errors with HTTP 200.
        Dialect::GitHub => {
            if json.contains_key("error") && status < 400 {
                status = 400;
            }
        }
        Dialect::Slack => {
            if json.get("ok") == Some(&Value::Bool(false)) {
                let error = json.get("error").and_then(Value::as_str).unwrap_or("unknown_error");
                let error = match error {
                    "invalid_refresh_token" | "invalid_code" | "code_already_used" | "invalid_grant_type" => {
                        "invalid_grant"
                    }
                    "bad_client_secret" | "invalid_client_id" => "invalid_client",
                    other => other,
                };
                let mut out = Map::new();
                out.insert("error".into(), Value::String(error.to_owned()));
                out.insert("error_description".into(), Value::String(format!("Slack: {error}")));
                let status = if error == "ratelimited" { 429 } else { status.max(400) };
                return (status, Value::Object(out).to_string().into_bytes());
            }
            // A user token (user_scope) comes under `authed_user`, the top level being the bot's.
            if !json.contains_key("access_token")
                && let Some(Value::Object(user)) = json.remove("authed_user")
            {
                for key in ["access_token", "refresh_token", "expires_in", "scope", "token_type"] {
                    if let Some(v) = user.get(key) {
                        json.insert(key.into(), v.clone());
                    }
                }
            }
        }
    }
    if json.contains_key("access_token") {
        // Slack says "user", some providers say nothing: the token is used as a bearer token.
        if !json.get("token_type").is_some_and(Value::is_string) {
            json.insert("token_type".into(), Value::String("Bearer".into()));
        }
        if let Some(Value::String(s)) = json.get("expires_in")
            && let Ok(n) = s.trim().parse::<u64>()
        {
            json.insert("expires_in".into(), Value::from(n));
        }
    }
    // Comma-separated scopes (GitHub, Slack, Linear), or a JSON array of them, read as RFC 6749's
    // space-separated list.
    let scope = match json.get("scope") {
        Some(Value::String(s)) => {
            Some(s.split([',', ' ']).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" "))
        }
        Some(Value::Array(a)) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")),
        _ => None,
    };
    if let Some(scope) = scope {
        json.insert("scope".into(), Value::String(scope));
    }
    (status, Value::Object(json).to_string().into_bytes())
}

fn classify<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
    seen: Seen,
) -> TokenFailure {
    let transient_status = seen.status == 429 || seen.status >= 500;
    let transient = |reason: String| TokenFailure::Transient { reason, retry_after: seen.retry_after };
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = sanitize::error_text(r.error().as_ref());
            let detail = match r.error_description() {
                Some(d) => format!("{code}: {}", sanitize::error_text(d)),
                None => code.clone(),
            };
            match r.error() {
                // Google sends invalid_grant with error_subtype=invalid_rapt for a policy sign-in.
                T::InvalidGrant if detail.contains("rapt") => TokenFailure::SignInRequired { detail },
                T::InvalidGrant => TokenFailure::GrantDead { detail },
                T::InvalidClient | T::UnauthorizedClient => TokenFailure::ClientRejected { detail },
                T::Extension(x)
                    if matches!(
                        x.as_str(),
                        "interaction_required" | "invalid_rapt" | "login_required" | "consent_required"
                    ) =>
                {
                    TokenFailure::SignInRequired { detail }
                }
                T::Extension(x)
                    if matches!(x.as_str(), "server_error" | "temporarily_unavailable" | "ratelimited") =>
                {
                    transient(format!("the provider is unavailable ({code})"))
                }
                _ if transient_status => {
                    transient(format!("the provider answered HTTP {} ({code})", seen.status))
                }
                _ => TokenFailure::Unexplained { detail },
            }
        }
        RequestTokenError::Request(_) => transient("the provider could not be reached".into()),
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) if transient_status || seen.html => {
            transient(match seen.status {
                429 => "the provider is rate-limiting (HTTP 429)".into(),
                s if s >= 500 => format!("the provider is unavailable (HTTP {s})"),
                _ => "the provider answered with a web page instead of a token".into(),
            })
        }
        RequestTokenError::Parse(..) => {
            TokenFailure::Unexplained { detail: "an unreadable token response".into() }
        }
        RequestTokenError::Other(why) => TokenFailure::Unexplained {
            detail: format!("an unexpected token response ({})", sanitize::error_text(&why)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2::StandardErrorResponse;

    fn server(
        code: T,
        description: Option<&str>,
    ) -> RequestTokenError<std::io::Error, oauth2::basic::BasicErrorResponse> {
        RequestTokenError::ServerResponse(StandardErrorResponse::new(
            code,
            description.map(str::to_owned),
            None,
        ))
    }
    fn seen(status: u16) -> Seen {
        Seen { status, retry_after: Some(Duration::from_secs(7)), html: false }
    }

    #[test]
    fn classification_follows_the_table() {
        assert!(matches!(classify(server(T::InvalidGrant, None), seen(400)), TokenFailure::GrantDead { .. }));
        assert!(matches!(
            classify(server(T::InvalidGrant, Some("invalid_rapt")), seen(400)),
            TokenFailure::SignInRequired { .. }
        ));
        assert!(matches!(
            classify(server(T::Extension("interaction_required".into()), None), seen(400)),
            TokenFailure::SignInRequired { .. }
        ));
        assert!(matches!(
            classify(server(T::InvalidClient, None), seen(401)),
            TokenFailure::ClientRejected { .. }
        ));
        assert!(matches!(
            classify(server(T::UnauthorizedClient, None), seen(400)),
            TokenFailure::ClientRejected { .. }
        ));
        assert_eq!(
            classify(server(T::Extension("temporarily_unavailable".into()), None), seen(503)),
            TokenFailure::Transient {
                reason: "the provider is unavailable (temporarily_unavailable)".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(server(T::InvalidRequest, None), seen(500)),
            TokenFailure::Transient { .. }
        ));
        assert!(matches!(
            classify(server(T::InvalidRequest, None), seen(400)),
            TokenFailure::Unexplained { .. }
        ));
        let parse = || {
            RequestTokenError::<std::io::Error, oauth2::basic::BasicErrorResponse>::Other("unexpected".into())
        };
        assert!(matches!(classify(parse(), seen(429)), TokenFailure::Transient { .. }));
        assert!(matches!(classify(parse(), seen(502)), TokenFailure::Transient { .. }));
        assert!(matches!(
            classify(parse(), Seen { status: 200, retry_after: None, html: true }),
            TokenFailure::Transient { .. }
        ));
        assert!(matches!(classify(parse(), seen(200)), TokenFailure::Unexplained { .. }));
        let net = RequestTokenError::<std::io::Error, oauth2::basic::BasicErrorResponse>::Request(
            std::io::Error::other("x"),
        );
        assert!(matches!(classify(net, Seen::default()), TokenFailure::Transient { .. }));
    }

    #[test]
    fn provider_text_is_cleaned_and_cut() {
        let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\nforged line\u{202E}".repeat(20_000);
        let TokenFailure::Unexplained { detail } =
            classify(server(T::Extension(format!("bad\u{1b}[31m{hostile}")), Some(&hostile)), seen(400))
        else {
            panic!("an unknown error code is unexplained")
        };
        assert!(!detail.chars().any(sanitize::is_unsafe), "{detail:?}");
        assert!(detail.chars().count() <= 2 * sanitize::ERROR_MAX + 2, "{}", detail.len());
        assert!(detail.starts_with("bad[31m]0;pwned[2J forged line"), "{detail}");
    }
}
