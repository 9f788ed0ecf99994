//! Where the sync token lives: the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows), or, where there is none (headless Linux, CI), a file only this
//! user can read (0600). Never in `settings.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

const SERVICE: &str = "dev.deckhand.app";
const TOKEN_FILE: &str = "token";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("keychain: {0}")]
    Keychain(#[from] keyring::Error),
    #[error("the keychain accepted the token but did not keep it (an in-memory store?)")]
    NotPersisted,
    #[error("token file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

/// Which store holds the token; the Settings page says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TokenStorage {
    Keychain,
    File,
}

pub struct TokenStore {
    storage: TokenStorage,
    /// One keychain entry per data dir: two profiles (or test runs) never share a token.
    account: String,
    file: PathBuf,
    /// Why the keychain was not used (shown in Settings).
    pub fallback_reason: Option<String>,
}

impl TokenStore {
    /// Uses the keychain when it answers, else the 0600 file. `DECKHAND_KEYCHAIN=off` forces the
    /// file (a machine whose keychain prompts for every unlock, say).
    pub fn open(data_dir: &Path) -> TokenStore {
        let account = format!("sync-token:{}", data_dir.display());
        let file = data_dir.join(TOKEN_FILE);
        let reason = if std::env::var("DECKHAND_KEYCHAIN").is_ok_and(|v| v == "off") {
            Some("turned off with DECKHAND_KEYCHAIN=off".to_string())
        } else {
            probe(&account).err().map(|e| e.to_string())
        };
        let storage = if reason.is_none() { TokenStorage::Keychain } else { TokenStorage::File };
        match &reason {
            None => tracing::info!("sync token kept in the OS keychain"),
            Some(r) => tracing::warn!(reason = %r, file = %file.display(), "no OS keychain: sync token kept in a file readable only by this user"),
        }
        TokenStore { storage, account, file, fallback_reason: reason }
    }

    pub fn storage(&self) -> TokenStorage {
        self.storage
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn load(&self) -> Result<Option<String>, SecretError> {
        match self.storage {
            TokenStorage::Keychain => match entry(&self.account)?.get_password() {
                Ok(t) => Ok(Some(t)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(e.into()),
            },
            TokenStorage::File => match std::fs::read_to_string(&self.file) {
                Ok(t) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(SecretError::File { path: self.file.clone(), source }),
            },
        }
    }

    /// Stores the token (`None` removes it).
    pub fn save(&self, token: Option<&str>) -> Result<(), SecretError> {
        match (self.storage, token) {
            (TokenStorage::Keychain, Some(t)) => {
                entry(&self.account)?.set_password(t)?;
                // Read back through a fresh entry: a store that only kept it in memory fails here.
                match entry(&self.account)?.get_password() {
                    Ok(back) if back == t => Ok(()),
                    _ => Err(SecretError::NotPersisted),
                }
            }
            (TokenStorage::Keychain, None) => match entry(&self.account)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(e.into()),
            },
            (TokenStorage::File, Some(t)) => write_private(&self.file, t),
            (TokenStorage::File, None) => match std::fs::remove_file(&self.file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SecretError::File { path: self.file.clone(), source: e }),
                _ => Ok(()),
            },
        }
    }
}

fn entry(account: &str) -> Result<keyring::Entry, keyring::Error> {
    keyring::Entry::new(SERVICE, account)
}

/// The keychain answers a lookup (absent is an answer; no session bus or a locked store is not).
fn probe(account: &str) -> Result<(), keyring::Error> {
    match entry(account)?.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes the file created 0600 (never briefly world-readable), replacing it atomically.
fn write_private(path: &Path, token: &str) -> Result<(), SecretError> {
    let err = |source| SecretError::File { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(err)?;
    f.write_all(token.as_bytes()).and_then(|_| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_fallback_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore { storage: TokenStorage::File, account: "t".into(), file: dir.path().join(TOKEN_FILE), fallback_reason: Some("test".into()) };
        assert_eq!(store.load().unwrap(), None);
        store.save(Some("s3cret")).unwrap();
        assert_eq!(store.load().unwrap().as_deref(), Some("s3cret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.file()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "token file mode {mode:o}");
        }
        store.save(None).unwrap();
        assert_eq!(store.load().unwrap(), None);
        assert!(!store.file().exists());
    }
}
