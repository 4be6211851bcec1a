// The app manifest names the one command the window may call, so Tauri generates the
// `allow-api` permission and refuses any command a capability does not grant.
fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(&["api"])),
    )
    .expect("failed to run tauri-build");
}
