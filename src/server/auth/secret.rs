//! The key tokens are signed with: configured (`--secret` / `SIGNALBOX_SECRET`), or generated
//! once into the data directory (`auth-secret`, readable by its owner only) so a server that
//! must authenticate can do so without setup, and `signalbox token create` finds the same key.

use super::keys::MIN_SECRET_BYTES;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The secret's file name inside the data directory.
pub const SECRET_FILE: &str = "auth-secret";

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("the signing secret must be at least {MIN_SECRET_BYTES} bytes long, got {0}")]
    TooShort(usize),
    #[error("cannot read or write the signing secret {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no signing secret: give --secret (or SIGNALBOX_SECRET), or point --data-dir at the \
         server's data directory (its `{SECRET_FILE}` file)"
    )]
    Missing,
}

/// A configured secret, checked for length.
pub fn configured(secret: &str) -> Result<Vec<u8>, SecretError> {
    let secret = secret.trim().as_bytes();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(SecretError::TooShort(secret.len()));
    }
    Ok(secret.to_vec())
}

/// The data directory's secret, if it has one.
pub fn stored(data_dir: &Path) -> Result<Option<Vec<u8>>, SecretError> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => configured(&text).map(Some),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SecretError::Io { path, source }),
    }
}

/// The data directory's secret, created (64 random hex digits, mode 0600) if missing.
pub fn stored_or_created(data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = stored(data_dir)? {
        return Ok(secret);
    }
    let path = data_dir.join(SECRET_FILE);
    let secret = super::claims::random_id(32);
    let io = |source| SecretError::Io {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    file.write_all(secret.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(secret.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_generated_secret_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(stored(dir.path()).unwrap().is_none());
        let first = stored_or_created(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(stored_or_created(dir.path()).unwrap(), first);
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(configured("short"), Err(SecretError::TooShort(5))));
        assert!(configured(&"k".repeat(32)).is_ok());
    }
}
