//! Text a provider sends (identity claims, error codes and descriptions, anything quoted from a
//! response body) is hostile until cleaned here: it ends up in account names, `last_error`, the
//! append-only audit trail, the UI and a terminal. Cleaning removes control characters (C0, DEL,
//! C1: a terminal's escape sequences and line breaks) and the bidirectional overrides and isolates
//! (which reorder what a person reads), turns every run of whitespace into one space, trims, and
//! cuts the result to a documented length.

use crate::model::Identity;

/// RFC 5321's longest usable address.
pub const EMAIL_MAX: usize = 254;
/// A display name; also the longest account name (`model::check_identifier`).
pub const NAME_MAX: usize = 200;
/// OpenID Connect Core §2: `sub` is at most 255 ASCII characters.
pub const SUBJECT_MAX: usize = 255;
/// A provider's `error`, `error_description` or `error_uri`, or a sentence quoted from its body.
pub const ERROR_MAX: usize = 500;
/// At most this much of an error response's body is read.
pub const ERROR_BODY_MAX: usize = 64 * 1024;
/// At most this much of a successful response's body (a token answer, userinfo, discovery) is read.
pub const BODY_MAX: usize = 1024 * 1024;

/// Characters never kept: control characters, and the Unicode bidi embeddings, overrides, isolates
/// and marks (Trojan Source, CVE-2021-42574).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` on one line without control or bidi characters, whitespace collapsed, at most `max`
/// characters (a cut one ends in "…"); `None` when nothing is left.
pub fn clean(s: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut count = 0;
    let mut space = false;
    let mut cut = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if is_unsafe(c) {
            continue;
        }
        let need = usize::from(space) + 1;
        if count + need > max {
            cut = true;
            break;
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        out.push(c);
        count += 1;
    }
    if cut && max > 0 {
        // Room for the ellipsis: drop the last character (and a space before it).
        out.pop();
        if out.ends_with(' ') {
            out.pop();
        }
        out.push('…');
    }
    (!out.is_empty()).then_some(out)
}

/// [`clean`] for provider error text, with an empty result shown as "(no text)".
pub fn error_text(s: &str) -> String {
    clean(s, ERROR_MAX).unwrap_or_else(|| "(no text)".into())
}

/// An identity as the provider reported it, each field cleaned to its length.
pub fn identity(i: Identity) -> Identity {
    Identity {
        subject: i.subject.and_then(|s| clean(&s, SUBJECT_MAX)),
        email: i.email.and_then(|s| clean(&s, EMAIL_MAX)),
        name: i.name.and_then(|s| clean(&s, NAME_MAX)),
    }
}

/// Reads at most `max` bytes of a response's body; the rest is not read (the connection is
/// dropped with the response). `Err` when the body was longer, with what was read.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, (Vec<u8>, Option<reqwest::Error>)> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return Err((body, None));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err((body, Some(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escape_sequences_line_breaks_and_bidi_controls() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m", 100).as_deref(), Some("[31mred[0m"));
        // OSC 8 hyperlink and OSC 0 title, with BEL and ST terminators.
        assert_eq!(
            clean("\u{1b}]8;;https://evil\u{7}x\u{1b}]8;;\u{1b}\\ \u{1b}]0;t\u{7}", 100).as_deref(),
            Some("]8;;https://evilx]8;;\\ ]0;t")
        );
        assert_eq!(clean("a\r\nb\tc\u{2028}d  \n e", 100).as_deref(), Some("a b c d e"));
        assert_eq!(
            clean("\u{202E}gnp.exe\u{202C}\u{2066}x\u{2069}\u{200F}", 100).as_deref(),
            Some("gnp.exex")
        );
        assert_eq!(clean("C1\u{9b}31m DEL\u{7f} NUL\0", 100).as_deref(), Some("C131m DEL NUL"));
        assert_eq!(clean("  \n\u{1b}\u{7}\t ", 100), None);
        assert_eq!(clean("héllo wörld ✓", 100).as_deref(), Some("héllo wörld ✓"));
        for s in ["a\u{1b}b", "x\ny", "\u{202E}z"] {
            let c = clean(s, 100).expect("text left");
            assert!(!c.chars().any(is_unsafe), "{c:?}");
        }
    }

    #[test]
    fn cuts_to_the_limit_in_characters() {
        assert_eq!(clean("abcdef", 6).as_deref(), Some("abcdef"));
        assert_eq!(clean("abcdefg", 6).as_deref(), Some("abcde…"));
        assert_eq!(clean("abcd efgh", 6).as_deref(), Some("abcd…"));
        assert_eq!(clean("ééééééé", 3).as_deref(), Some("éé…"));
        let huge = "\u{1b}[2J\u{1b}]0;x\u{7}A\n".repeat(100_000) + &"é".repeat(1_000_000);
        assert!(huge.len() > 1_000_000);
        let c = clean(&huge, ERROR_MAX).expect("text");
        assert_eq!(c.chars().count(), ERROR_MAX);
        assert!(c.ends_with('…') && !c.chars().any(is_unsafe));
    }

    #[test]
    fn identity_fields_get_their_lengths() {
        let long = "x".repeat(1_000_000);
        let who = identity(Identity {
            subject: Some(format!("{long}\u{1b}")),
            email: Some(format!("{long}@example.test\nforged row")),
            name: Some("\u{1b}[2J\u{202E}Mallory\r\n".into()),
        });
        assert_eq!(who.subject.as_ref().map(|s| s.chars().count()), Some(SUBJECT_MAX));
        assert_eq!(who.email.as_ref().map(|s| s.chars().count()), Some(EMAIL_MAX));
        assert_eq!(who.name.as_deref(), Some("[2JMallory"));
        let empty = identity(Identity { subject: Some("\u{7}".into()), email: None, name: Some(" ".into()) });
        assert_eq!(empty, Identity::default());
    }
}
