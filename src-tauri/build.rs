fn main() {
    // The one capability is in tauri.conf.json (app.security.capabilities), where Tauri's own build
    // scripts read it to leave out the commands it does not allow (.cargo/config.toml).
    tauri_build::build();
}
