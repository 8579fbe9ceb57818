//! The consent desk while Latchkey rests: a program asking (`latchkey mcp`, a script under the
//! `ask` hand-out policy) finds this desk, marked as resting in its address file; the desk answers
//! nothing itself, and opens the window (as the menu's Open does), whose process starts the desk
//! that asks the person and rewrites the file. The asker waits for that one
//! (`latchkey_core::consent`).

use std::path::Path;

use latchkey_core::consent::Desk;
use tokio::sync::mpsc::UnboundedSender;

use crate::app::Event;

/// Starts the resting desk in `data_dir`; `None` (logged) when it cannot: programs then hear that
/// the app is not running.
pub async fn start(data_dir: &Path, events: UnboundedSender<Event>) -> Option<Desk> {
    let wake = move || {
        tracing::info!("a program asks for consent: Latchkey opens its window");
        let _ = events.send(Event::Open(Vec::new()));
    };
    match Desk::start_resting(data_dir, wake).await {
        Ok(desk) => Some(desk),
        Err(e) => {
            tracing::warn!("no consent desk: programs cannot ask while Latchkey rests ({e})");
            latchkey_core::consent::withdraw(data_dir);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use latchkey_core::api::Access;
    use latchkey_core::consent::{ConsentPurpose, ConsentRequest, DESK_FILE, ask_waking, proof};
    use latchkey_core::model::AccountId;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use crate::app::Event;

    /// A proven question opens the window and is answered by nobody here; an unproven one opens
    /// nothing.
    #[tokio::test]
    async fn a_question_opens_the_window_and_is_not_answered_here() {
        let dir = tempfile::tempdir().expect("tmp");
        let (events, mut inbox) = tokio::sync::mpsc::unbounded_channel();
        let desk = super::start(dir.path(), events).await.expect("desk");
        let address: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(DESK_FILE)).expect("file")).expect("json");
        assert_eq!(address["wakes"], true, "{address}");
        assert_eq!(address["pid"], std::process::id());
        assert_eq!(address["cookie"].as_str().map(str::len), Some(64));

        // The wrong cookie: refused, no window.
        let nonce = "n".repeat(64);
        let line = serde_json::json!({
            "nonce": nonce, "auth": proof(&"0".repeat(64), &[&nonce]), "consumer": "agent",
            "account": AccountId::random().to_string(), "access": "read", "purpose": "api_call"
        });
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", desk.port())).await.expect("connect");
        stream.write_all(format!("{line}\n").as_bytes()).await.expect("write");
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).await.expect("read");
        assert!(reply.contains("not authenticated"), "{reply}");
        assert!(inbox.try_recv().is_err(), "an unproven question opened the window");

        // The asker's way: the window is opened; as no window's desk replaces this one, the asker
        // hears within its bound that there is no app to ask.
        let request = ConsentRequest {
            consumer: "agent".into(),
            account: AccountId::random(),
            access: Access::Read,
            purpose: ConsentPurpose::ApiCall,
        };
        let started = std::time::Instant::now();
        let answer = ask_waking(dir.path(), &request, Duration::from_secs(5), Duration::from_millis(400))
            .await
            .expect("ask");
        assert_eq!(answer, None);
        assert!(started.elapsed() >= Duration::from_millis(400), "it did not wait for the window");
        assert!(matches!(inbox.try_recv(), Ok(Event::Open(links)) if links.is_empty()));
        assert!(inbox.try_recv().is_err(), "one question, one window");
        drop(desk);
        assert!(!dir.path().join(DESK_FILE).exists(), "the desk's file goes with it");
    }
}
