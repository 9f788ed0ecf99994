fn main() {
    // Capabilities live beside the shell's sources, not at the package root.
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    // Every app command gets an `allow-<command>` permission; the main capability grants exactly these.
    let commands: &[&str] = &[
        "cards_list",
        "card_get",
        "lanes_list",
        "tags_list",
        "card_create",
        "card_update",
        "card_move",
        "card_delete",
        "cards_bulk",
        "card_create_checked",
        "card_refresh_meta",
        "cards_refresh_meta",
        "cards_broken",
        "outbox_list",
        "outbox_retry",
        "outbox_retry_all",
        "outbox_discard",
        "recovery_report",
        "recovery_list",
        "recovery_requeue",
        "recovery_discard",
        "conflicts_list",
        "conflict_resolve",
        "sync_pause",
        "sync_resume",
        "sync_now",
        "sync_status",
        "sync_history",
        "open_logs_folder",
        "settings_get",
        "settings_set",
        "token_storage",
        "desktop_settings_get",
        "desktop_settings_set",
        "capture_take",
    ];
    let attrs = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    tauri_build::try_build(attrs).expect("tauri-build failed");
}
