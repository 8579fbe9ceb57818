//! The window's process image started WebKit's processes as its children; after the `exec` into
//! this program they end (their connection to it is gone) with nobody left to wait for them.

/// Waits, on a thread, for every child this process has at start (it has started none itself),
/// so none stays behind as a zombie.
pub fn inherited_children() {
    let me = std::process::id();
    let children: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .collect();
    if children.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new().name("reap".into()).spawn(move || {
        for pid in children {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
    });
}

/// The parent pid in `/proc/<pid>/stat` (the field after the parenthesised command name).
fn parent_of(pid: i32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 1..)?.split_whitespace().nth(1)?.parse().ok()
}
