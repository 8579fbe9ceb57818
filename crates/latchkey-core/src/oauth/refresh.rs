//! The refresh-token grant, and the classification of its failures (oauth-field-notes §5):
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
    AsyncHttpClient, ClientId, HttpClientError, HttpRequest, HttpResponse, RefreshToken, RequestTokenError,
    TokenResponse, TokenUrl,
};

use crate::config::ProviderMetadata;
use crate::http::Http;
use crate::secret::Secret;

/// A successful refresh.
#[derive(Debug)]
pub struct Refreshed {
    pub access_token: Secret,
    /// `None` when the provider sent no new one: keep the old one.
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<Duration>,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    Transient { reason: String, retry_after: Option<Duration> },
    GrantDead { detail: String },
    SignInRequired { detail: String },
    ClientRejected { detail: String },
    Unexplained { detail: String },
}

/// What the HTTP layer saw of the token endpoint's answer, for classifying parse failures.
#[derive(Clone, Copy, Default)]
struct Seen {
    status: u16,
    retry_after: Option<Duration>,
    html: bool,
}

pub async fn refresh(
    http: &Http,
    metadata: &ProviderMetadata,
    client_id: &str,
    refresh_token: &Secret,
) -> Result<Refreshed, RefreshFailure> {
    let client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()));
    let seen = Mutex::new(Seen::default());
    let recorder = Recorder { client: http.client(), seen: &seen };
    let token = RefreshToken::new(refresh_token.expose().to_owned());
    let result = client.exchange_refresh_token(&token).request_async(&recorder).await;
    let seen = *seen.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(r) => Ok(Refreshed {
            access_token: Secret::new(r.access_token().secret().as_str()),
            refresh_token: r.refresh_token().map(|t| Secret::new(t.secret().as_str())),
            expires_in: r.expires_in(),
            scopes: r.scopes().map(|s| s.iter().map(|x| x.to_string()).collect()),
        }),
        Err(e) => Err(classify(e, seen)),
    }
}

/// The reqwest client, noting the status and a few headers of the answer on the way back.
struct Recorder<'a> {
    client: &'a reqwest::Client,
    seen: &'a Mutex<Seen>,
}

impl<'c> AsyncHttpClient<'c> for Recorder<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response: HttpResponse = self.client.call(request).await?;
            let header = |name: http::header::HeaderName| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let status = response.status().as_u16();
            let retry_after = header(http::header::RETRY_AFTER)
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            let html = header(http::header::CONTENT_TYPE).is_some_and(|v| v.contains("html"));
            *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Seen { status, retry_after, html };
            Ok(response)
        })
    }
}

fn classify<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
    seen: Seen,
) -> RefreshFailure {
    let transient_status = seen.status == 429 || seen.status >= 500;
    let transient = |reason: String| RefreshFailure::Transient { reason, retry_after: seen.retry_after };
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().to_string();
            let detail = match r.error_description() {
                Some(d) => format!("{code}: {d}"),
                None => code.clone(),
            };
            match r.error() {
                // Google sends invalid_grant with error_subtype=invalid_rapt for a policy sign-in.
                T::InvalidGrant if detail.contains("rapt") => RefreshFailure::SignInRequired { detail },
                T::InvalidGrant => RefreshFailure::GrantDead { detail },
                T::InvalidClient | T::UnauthorizedClient => RefreshFailure::ClientRejected { detail },
                T::Extension(x)
                    if matches!(
                        x.as_str(),
                        "interaction_required" | "invalid_rapt" | "login_required" | "consent_required"
                    ) =>
                {
                    RefreshFailure::SignInRequired { detail }
                }
                T::Extension(x)
                    if matches!(x.as_str(), "server_error" | "temporarily_unavailable" | "ratelimited") =>
                {
                    transient(format!("the provider is unavailable ({code})"))
                }
                _ if transient_status => {
                    transient(format!("the provider answered HTTP {} ({code})", seen.status))
                }
                _ => RefreshFailure::Unexplained { detail },
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
            RefreshFailure::Unexplained { detail: "an unreadable token response".into() }
        }
        RequestTokenError::Other(why) => {
            RefreshFailure::Unexplained { detail: format!("an unexpected token response ({why})") }
        }
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
        assert!(matches!(
            classify(server(T::InvalidGrant, None), seen(400)),
            RefreshFailure::GrantDead { .. }
        ));
        assert!(matches!(
            classify(server(T::InvalidGrant, Some("invalid_rapt")), seen(400)),
            RefreshFailure::SignInRequired { .. }
        ));
        assert!(matches!(
            classify(server(T::Extension("interaction_required".into()), None), seen(400)),
            RefreshFailure::SignInRequired { .. }
        ));
        assert!(matches!(
            classify(server(T::InvalidClient, None), seen(401)),
            RefreshFailure::ClientRejected { .. }
        ));
        assert!(matches!(
            classify(server(T::UnauthorizedClient, None), seen(400)),
            RefreshFailure::ClientRejected { .. }
        ));
        assert_eq!(
            classify(server(T::Extension("temporarily_unavailable".into()), None), seen(503)),
            RefreshFailure::Transient {
                reason: "the provider is unavailable (temporarily_unavailable)".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(server(T::InvalidRequest, None), seen(500)),
            RefreshFailure::Transient { .. }
        ));
        assert!(matches!(
            classify(server(T::InvalidRequest, None), seen(400)),
            RefreshFailure::Unexplained { .. }
        ));
        let parse = || {
            RequestTokenError::<std::io::Error, oauth2::basic::BasicErrorResponse>::Other("unexpected".into())
        };
        assert!(matches!(classify(parse(), seen(429)), RefreshFailure::Transient { .. }));
        assert!(matches!(classify(parse(), seen(502)), RefreshFailure::Transient { .. }));
        assert!(matches!(
            classify(parse(), Seen { status: 200, retry_after: None, html: true }),
            RefreshFailure::Transient { .. }
        ));
        assert!(matches!(classify(parse(), seen(200)), RefreshFailure::Unexplained { .. }));
        let net = RequestTokenError::<std::io::Error, oauth2::basic::BasicErrorResponse>::Request(
            std::io::Error::other("x"),
        );
        assert!(matches!(classify(net, Seen::default()), RefreshFailure::Transient { .. }));
    }
}
