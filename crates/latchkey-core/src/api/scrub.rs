//! Keeping the token out of an API's answer. A provider that echoes the request (an error that
//! quotes the Authorization header, a debugging endpoint) would hand the token to the consumer,
//! which is never to see it, so every form the answer could carry it in is replaced: as sent,
//! percent-encoded, with JSON's escaped slash, and, in a JSON answer, any escaping at all (the
//! answer is decoded, cleaned and encoded again).

use crate::secret::Secret;

const REMOVED: &str = "[token removed by Latchkey]";

/// `body` without any of `secrets`, and whether anything was removed.
pub fn scrub(body: String, secrets: &[Secret]) -> (String, bool) {
    let secrets: Vec<&str> = secrets.iter().map(Secret::expose).filter(|s| !s.is_empty()).collect();
    if secrets.is_empty() {
        return (body, false);
    }
    let mut body = body;
    let mut removed = false;
    if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&body)
        && scrub_value(&mut value, &secrets)
    {
        body = value.to_string();
        removed = true;
    }
    for secret in &secrets {
        let percent: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [secret.to_string(), percent, secret.replace('/', "\\/")] {
            if body.contains(&form) {
                body = body.replace(&form, REMOVED);
                removed = true;
            }
        }
    }
    (body, removed)
}

/// Replaces the secrets in every string and key of `value`; whether any was there.
fn scrub_value(value: &mut serde_json::Value, secrets: &[&str]) -> bool {
    let clean = |text: &str| -> Option<String> {
        secrets
            .iter()
            .any(|s| text.contains(s))
            .then(|| secrets.iter().fold(text.to_owned(), |t, s| t.replace(s, REMOVED)))
    };
    match value {
        serde_json::Value::String(text) => match clean(text) {
            Some(cleaned) => {
                *text = cleaned;
                true
            }
            None => false,
        },
        serde_json::Value::Array(items) => {
            items.iter_mut().fold(false, |any, v| scrub_value(v, secrets) | any)
        }
        serde_json::Value::Object(map) => {
            let mut any = false;
            let entries = std::mem::take(map);
            for (key, mut v) in entries {
                any |= scrub_value(&mut v, secrets);
                let key = match clean(&key) {
                    Some(cleaned) => {
                        any = true;
                        cleaned
                    }
                    None => key,
                };
                map.insert(key, v);
            }
            any
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like Microsoft's opaque access tokens: base64 with `+`, `/` and `=`.
    const TOKEN: &str = "EwB4A8l6+BAAU/xT3k9ZrQ==tail";

    fn scrubbed(body: &str) -> String {
        let (out, removed) = scrub(body.to_owned(), &[Secret::new(TOKEN)]);
        assert!(removed, "{body} -> {out}");
        assert!(!out.contains(TOKEN), "{out}");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
            assert!(!v.to_string().contains(TOKEN), "decoded: {v}");
        }
        out
    }

    #[test]
    fn every_echoed_form_of_the_token_is_removed() {
        let raw = format!("Authorization: Bearer {TOKEN}");
        assert_eq!(scrubbed(&raw), format!("Authorization: Bearer {REMOVED}"));
        scrubbed(&format!(
            "https://x.example/cb?access_token={}",
            TOKEN.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
        ));
        scrubbed(&format!("var t = \"{}\";", TOKEN.replace('/', "\\/")));
        // JSON with the escapes PHP (`\/`) and .NET (`\u002B`) write, nested, and in a key.
        let php = format!(r#"{{"headers":{{"Authorization":"Bearer {}"}}}}"#, TOKEN.replace('/', "\\/"));
        let dotnet = format!(r#"[1, {{"error": {{"echo": ["Bearer {}"]}}}}]"#, TOKEN.replace('+', "\\u002B"));
        let keyed = format!(r#"{{"{TOKEN}": true, "n": 2}}"#);
        for body in [php, dotnet, keyed] {
            let out = scrubbed(&body);
            assert!(out.contains(REMOVED), "{out}");
            serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
        }
        assert_eq!(scrubbed(&format!(r#"{{"n":2,"t":"{TOKEN}"}}"#)), format!(r#"{{"n":2,"t":"{REMOVED}"}}"#));
    }

    #[test]
    fn an_answer_without_the_token_is_left_as_it_was() {
        for body in ["", "plain text", "{ \"pretty\":  [1, 2] }", "EwB4A8l6", "not json {"] {
            assert_eq!(scrub(body.to_owned(), &[Secret::new(TOKEN)]), (body.to_owned(), false));
        }
        assert_eq!(scrub("x".into(), &[Secret::new("")]), ("x".to_owned(), false));
    }
}
