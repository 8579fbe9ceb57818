//! The device authorization grant (RFC 8628), for sessions without a browser: ask the provider's
//! device authorization endpoint for a user code, show it with the verification URI, then poll the
//! token endpoint (`TokenClient::poll_device`) until the user approved, denied or the code expired.
//!
//! The answer is hostile input like any other: a field that is missing, too long, not https (plain
//! http only on loopback, as for every endpoint), with credentials in a URI, or with control or
//! bidi characters is refused with the reason; intervals and lifetimes are clamped. The
//! `device_code` can be redeemed, so it is a [`Secret`].

use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::config::check_endpoint;
use crate::error::{Error, Result};
use crate::http::{Http, describe_transport};
use crate::protocol::{ClientAuth, Protocol, RequestFormat};
use crate::sanitize;
use crate::secret::Secret;

/// RFC 8628 §3.2: the interval when the provider names none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: what `slow_down` adds to the interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The shortest and longest polling intervals followed, whatever the provider says.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// The lifetime assumed when the provider names none (GitHub's and Microsoft's is 15 minutes).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(15 * 60);
/// The longest a device sign-in waits (Google's codes live 30 minutes, the longest seen).
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(30 * 60);
/// A user code is typed by a person: RFC 8628 §6.1 recommends about 8 characters.
pub const USER_CODE_MAX: usize = 64;
pub const DEVICE_CODE_MAX: usize = 4096;
pub const URI_MAX: usize = 2048;

/// What the device authorization endpoint answered, checked.
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: Url,
    pub verification_uri_complete: Option<Url>,
    pub expires_in: Duration,
    pub interval: Duration,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri.as_str())
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Who asks for the user code.
pub struct DeviceRequest<'a> {
    pub http: &'a Http,
    pub provider: &'a str,
    pub endpoint: &'a Url,
    pub protocol: &'a Protocol,
    pub client_id: &'a str,
    pub client_secret: Option<&'a Secret>,
    pub scopes: &'a [String],
}

impl DeviceRequest<'_> {
    /// RFC 8628 §3.1–3.2: the device authorization request, and its answer checked.
    pub async fn send(&self) -> Result<DeviceAuthorization> {
        let bad = |detail: String| Error::Provider { provider: self.provider.to_owned(), detail };
        let mut params: Vec<(&str, String)> = Vec::new();
        if !self.scopes.is_empty() {
            params.push(("scope", self.protocol.scope_separator.join(self.scopes)));
        }
        let (params, auth) = client_authentication(params, self.protocol, self.client_id, self.client_secret);
        let mut request =
            self.http.client().post(self.endpoint.clone()).header(http::header::ACCEPT, "application/json");
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        request = with_body(request, self.protocol.request_format, &params);
        let response = request.send().await.map_err(|e| Error::Network {
            provider: self.provider.to_owned(),
            detail: describe_transport(&e),
        })?;
        let status = response.status().as_u16();
        let max = if status >= 400 { sanitize::ERROR_BODY_MAX } else { sanitize::BODY_MAX };
        let body = match sanitize::read_body(response, max).await {
            Ok(body) => body,
            Err((_, None)) => return Err(bad("its device authorization answer is too long".into())),
            Err((_, Some(e))) => {
                return Err(Error::Network {
                    provider: self.provider.to_owned(),
                    detail: describe_transport(&e),
                });
            }
        };
        parse(status, &body).map_err(bad)
    }
}

/// Form parameters, and a Basic header's user and password.
pub(crate) type Authenticated<'a> = (Vec<(&'a str, String)>, Option<(String, String)>);

/// The request's parameters with the client's credentials as the protocol sends them: `client_id`
/// in the body (and the secret, for `body`), or a Basic header of both (RFC 6749 §2.3.1: each
/// form-encoded first).
pub(crate) fn client_authentication<'a>(
    mut params: Vec<(&'a str, String)>,
    protocol: &Protocol,
    client_id: &str,
    client_secret: Option<&Secret>,
) -> Authenticated<'a> {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    match (client_secret, protocol.client_auth) {
        (Some(secret), ClientAuth::Basic) => (params, Some((encode(client_id), encode(secret.expose())))),
        (Some(secret), ClientAuth::Body) => {
            params.push(("client_id", client_id.to_owned()));
            params.push(("client_secret", secret.expose().to_owned()));
            (params, None)
        }
        (None, _) => {
            params.push(("client_id", client_id.to_owned()));
            (params, None)
        }
    }
}

/// The body as the provider takes it: a form (RFC 6749), or a JSON object of strings.
pub(crate) fn with_body(
    request: reqwest::RequestBuilder,
    format: RequestFormat,
    params: &[(&str, String)],
) -> reqwest::RequestBuilder {
    match format {
        RequestFormat::Form => request.form(params),
        RequestFormat::Json => {
            let object: serde_json::Map<String, Value> =
                params.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect();
            request.json(&object)
        }
    }
}

/// Reads the device authorization answer; `Err` is the reason it was refused, as a phrase.
pub fn parse(status: u16, body: &[u8]) -> std::result::Result<DeviceAuthorization, String> {
    let json = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(json)) => json,
        _ if status >= 400 => {
            return Err(format!("its device authorization endpoint answered HTTP {status}"));
        }
        _ => return Err("its device authorization answer is not a JSON object".into()),
    };
    // An error, also with HTTP 200 (GitHub).
    if let Some(error) = json.get("error") {
        let code = sanitize::error_text(error.as_str().unwrap_or("error"));
        return Err(match json.get("error_description").and_then(Value::as_str) {
            Some(d) => format!("{code}: {}", sanitize::error_text(d)),
            None => code,
        });
    }
    if status >= 400 {
        return Err(format!("its device authorization endpoint answered HTTP {status}"));
    }
    let text = |name: &str| -> std::result::Result<Option<&str>, String> {
        match json.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("its device authorization answer has a `{name}` that is not text")),
        }
    };
    let missing = |name: &str| format!("its device authorization answer has no `{name}`");

    let device_code = text("device_code")?.filter(|s| !s.is_empty()).ok_or_else(|| missing("device_code"))?;
    if device_code.len() > DEVICE_CODE_MAX || device_code.chars().any(|c| c.is_control()) {
        return Err("its device code is too long or not printable".into());
    }
    let user_code =
        text("user_code")?.filter(|s| !s.trim().is_empty()).ok_or_else(|| missing("user_code"))?;
    // The person types it as shown: anything a terminal would not show as it is refuses the answer.
    if user_code.chars().count() > USER_CODE_MAX || user_code.chars().any(sanitize::is_unsafe) {
        return Err("its user code is too long or has characters that cannot be shown".into());
    }
    // Google names it `verification_url`.
    let uri = match text("verification_uri")? {
        Some(u) => u,
        None => text("verification_url")?.ok_or_else(|| missing("verification_uri"))?,
    };
    let verification_uri = uri_field("verification_uri", uri)?;
    let verification_uri_complete =
        text("verification_uri_complete")?.map(|u| uri_field("verification_uri_complete", u)).transpose()?;
    let expires_in = seconds(json.get("expires_in"), "expires_in")?
        .unwrap_or(DEFAULT_EXPIRES_IN)
        .clamp(Duration::from_secs(1), MAX_EXPIRES_IN);
    let interval = seconds(json.get("interval"), "interval")?
        .unwrap_or(DEFAULT_INTERVAL)
        .clamp(MIN_INTERVAL, MAX_INTERVAL);
    Ok(DeviceAuthorization {
        device_code: Secret::new(device_code),
        user_code: user_code.to_owned(),
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
    })
}

/// A URI the person opens: https (http on loopback only), no user or password (which can make
/// `https://provider.example@evil.example` look like the provider), nothing a terminal would
/// not show as it is.
fn uri_field(name: &str, value: &str) -> std::result::Result<Url, String> {
    if value.len() > URI_MAX || value.chars().any(|c| sanitize::is_unsafe(c) || c.is_whitespace()) {
        return Err(format!("its `{name}` is too long or has characters that cannot be shown"));
    }
    let url = Url::parse(value).map_err(|_| format!("its `{name}` is not a URL"))?;
    check_endpoint(&url).map_err(|why| format!("its `{name}` is refused: {why}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("its `{name}` carries a user name or password"));
    }
    Ok(url)
}

/// A count of seconds: a non-negative integer, or one written as text; absent or null is `None`.
fn seconds(value: Option<&Value>, name: &str) -> std::result::Result<Option<Duration>, String> {
    let n = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    n.map(|n| Some(Duration::from_secs(n.min(u64::from(u32::MAX)))))
        .ok_or_else(|| format!("its `{name}` is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> DeviceAuthorization {
        parse(200, body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }
    fn refused(status: u16, body: &str) -> String {
        parse(status, body.as_bytes()).err().unwrap_or_else(|| panic!("accepted: {body}"))
    }

    #[test]
    fn a_standard_answer_reads_with_its_defaults() {
        let a = ok(
            r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device",
            "verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT","expires_in":1800,"interval":5}"#,
        );
        assert_eq!(a.device_code.expose(), "dc");
        assert_eq!(a.user_code, "WDJB-MJHT");
        assert_eq!(a.verification_uri.as_str(), "https://example.com/device");
        assert_eq!(
            a.verification_uri_complete.as_ref().map(Url::as_str),
            Some("https://example.com/device?user_code=WDJB-MJHT")
        );
        assert_eq!((a.expires_in, a.interval), (Duration::from_secs(1800), Duration::from_secs(5)));
        // No interval: RFC 8628's 5 s; no lifetime: 15 minutes; Google's `verification_url`;
        // numbers as text.
        let b = ok(
            r#"{"device_code":"d","user_code":"A","verification_url":"https://www.google.com/device","expires_in":"600"}"#,
        );
        assert_eq!(b.verification_uri.as_str(), "https://www.google.com/device");
        assert_eq!((b.interval, b.expires_in), (DEFAULT_INTERVAL, Duration::from_secs(600)));
        assert!(b.verification_uri_complete.is_none());
        let c = ok(r#"{"device_code":"d","user_code":"A","verification_uri":"http://127.0.0.1:5/device"}"#);
        assert_eq!(c.expires_in, DEFAULT_EXPIRES_IN);
        assert!(!format!("{a:?}").contains("dc\""), "the device code stays out of Debug: {a:?}");
    }

    #[test]
    fn absurd_intervals_and_lifetimes_are_clamped() {
        let body = |interval: &str, expires: &str| {
            format!(
                r#"{{"device_code":"d","user_code":"A","verification_uri":"https://a.example/d","interval":{interval},"expires_in":{expires}}}"#
            )
        };
        let a = ok(&body("0", "0"));
        assert_eq!((a.interval, a.expires_in), (MIN_INTERVAL, Duration::from_secs(1)));
        let b = ok(&body("99999999999999999", "31536000"));
        assert_eq!((b.interval, b.expires_in), (MAX_INTERVAL, MAX_EXPIRES_IN));
        for (i, e) in [("-1", "5"), ("1.5", "5"), ("\"soon\"", "5"), ("5", "[]"), ("5", "{}")] {
            assert!(refused(200, &body(i, e)).contains("not a number"), "{i} {e}");
        }
    }

    #[test]
    fn hostile_answers_are_refused_with_the_reason() {
        let cases: &[(&str, &str)] = &[
            (r#"{"user_code":"A","verification_uri":"https://a.example/d"}"#, "no `device_code`"),
            (
                r#"{"device_code":"","user_code":"A","verification_uri":"https://a.example/d"}"#,
                "no `device_code`",
            ),
            (r#"{"device_code":"d","verification_uri":"https://a.example/d"}"#, "no `user_code`"),
            (r#"{"device_code":"d","user_code":"A"}"#, "no `verification_uri`"),
            (r#"{"device_code":7,"user_code":"A","verification_uri":"https://a.example/d"}"#, "not text"),
            (r#"{"device_code":"d","user_code":"A","verification_uri":"http://evil.example/d"}"#, "https"),
            (r#"{"device_code":"d","user_code":"A","verification_uri":"javascript:alert(1)"}"#, "refused"),
            (
                r#"{"device_code":"d","user_code":"A","verification_uri":"https://a.example@evil.example/d"}"#,
                "user name",
            ),
            (
                r#"{"device_code":"d","user_code":"A","verification_uri":"https://a.example/d\u001b]8;;x"}"#,
                "cannot be shown",
            ),
            (
                r#"{"device_code":"d","user_code":"A","verification_uri":"https://a.example/\u202Ed"}"#,
                "cannot be shown",
            ),
            (
                r#"{"device_code":"d","user_code":"A","verification_uri":"https://a.ex\nample/d"}"#,
                "cannot be shown",
            ),
            (
                r#"{"device_code":"d","user_code":"A\u001b[2J","verification_uri":"https://a.example/d"}"#,
                "user code",
            ),
            (
                r#"{"device_code":"d","user_code":"A\u202EB","verification_uri":"https://a.example/d"}"#,
                "user code",
            ),
            (
                r#"{"device_code":"d\u0000","user_code":"A","verification_uri":"https://a.example/d"}"#,
                "device code",
            ),
            (
                r#"{"device_code":"d","user_code":"A","verification_uri":"https://a.example/d","verification_uri_complete":"http://evil.example/"}"#,
                "verification_uri_complete",
            ),
            (r#"[1,2]"#, "not a JSON object"),
            ("<html>", "not a JSON object"),
        ];
        for (body, needle) in cases {
            let why = refused(200, body);
            assert!(why.contains(needle), "{body}: {why}");
        }
        let long = format!(
            r#"{{"device_code":"{}","user_code":"A","verification_uri":"https://a.example/d"}}"#,
            "d".repeat(DEVICE_CODE_MAX + 1)
        );
        assert!(refused(200, &long).contains("too long"));
        let long = format!(
            r#"{{"device_code":"d","user_code":"{}","verification_uri":"https://a.example/d"}}"#,
            "A".repeat(USER_CODE_MAX + 1)
        );
        assert!(refused(200, &long).contains("too long"));
        let long = format!(
            r#"{{"device_code":"d","user_code":"A","verification_uri":"https://a.example/{}"}}"#,
            "p".repeat(URI_MAX)
        );
        assert!(refused(200, &long).contains("too long"));
    }

    #[test]
    fn errors_are_cleaned_also_with_http_200() {
        let why = refused(
            200,
            r#"{"error":"device_flow_disabled","error_description":"Enable\u001b[31m it\nnow"}"#,
        );
        assert_eq!(why, "device_flow_disabled: Enable[31m it now");
        assert_eq!(refused(400, r#"{"error":"invalid_scope"}"#), "invalid_scope");
        assert!(refused(502, "<html>bad gateway</html>").contains("HTTP 502"));
        assert!(refused(401, "{}").contains("HTTP 401"));
    }
}
