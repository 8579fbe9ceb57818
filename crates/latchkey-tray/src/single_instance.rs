//! The app's single-instance D-Bus name and interface, as tauri-plugin-single-instance serves them
//! (`<identifier>.SingleInstance`, `org.SingleInstance.DBus.ExecuteCallback(argv, cwd)`): while this
//! program holds the name, `latchkey-desktop` started again (by the launcher, or by the browser
//! with a link) finds it, hands over its arguments and exits.

use latchkey_core::paths::IDENTIFIER;
use tokio::sync::mpsc::UnboundedSender;

use crate::app::Event;

struct SingleInstance(UnboundedSender<Event>);

#[zbus::interface(name = "org.SingleInstance.DBus")]
impl SingleInstance {
    /// `argv` is the second launch's command line: the window is wanted, with any link on it.
    fn execute_callback(&self, argv: Vec<String>, _cwd: String) {
        let _ = self.0.send(Event::Open(links(argv)));
    }
}

/// The arguments worth handing to the window's process: the links (a launch's own flags are not).
fn links(argv: Vec<String>) -> Vec<String> {
    argv.into_iter().skip(1).filter(|a| !a.starts_with('-')).collect()
}

pub enum Claim {
    /// Held for as long as the connection lives (it closes at `exec`, releasing the name).
    Held(zbus::Connection),
    /// Another Latchkey holds it.
    Taken,
    /// No session bus: nothing can find this process, and it can find no other.
    Unavailable(zbus::Error),
}

pub async fn claim(events: UnboundedSender<Event>) -> Claim {
    let name = format!("{IDENTIFIER}.SingleInstance");
    let path = format!("/{}", name.replace('.', "/").replace('-', "_"));
    let built = async {
        zbus::connection::Builder::session()?
            .name(name.as_str())?
            .replace_existing_names(false)
            .allow_name_replacements(false)
            .serve_at(path.as_str(), SingleInstance(events))?
            .build()
            .await
    };
    match built.await {
        Ok(connection) => Claim::Held(connection),
        Err(zbus::Error::NameTaken) => Claim::Taken,
        Err(e) => Claim::Unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_launch_hands_over_its_links_and_not_its_flags() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(super::links(argv(&["/usr/bin/latchkey-desktop"])).is_empty());
        assert_eq!(
            super::links(argv(&[
                "latchkey-desktop",
                "--background",
                "io.latchkey.desktop:/oauth/x/callback?code=1"
            ])),
            argv(&["io.latchkey.desktop:/oauth/x/callback?code=1"])
        );
    }
}
