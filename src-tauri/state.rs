use std::path::PathBuf;
use std::sync::Mutex;

use deckhand_core::Engine;
use deckhand_core::model::AppSettings;

use crate::desktop::DesktopState;
use crate::secrets::TokenStore;

/// What every command reaches through `State<'_, Shell>`.
pub struct Shell {
    pub engine: Engine,
    pub settings: Mutex<AppSettings>,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    pub tokens: TokenStore,
    pub desktop: Mutex<DesktopState>,
}

impl Shell {
    pub fn settings(&self) -> AppSettings {
        self.settings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn desktop(&self) -> DesktopState {
        self.desktop.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
