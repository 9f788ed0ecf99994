//! Deckhand desktop shell: a thin Tauri v2 layer over `deckhand-core`.

pub fn run() {
    tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::new().build())
        .run(tauri::generate_context!())
        .expect("error while running Deckhand");
}
