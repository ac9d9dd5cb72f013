//! Secrets the server keeps between starts: the key that signs session tokens and the admin
//! token. Each comes from configuration, or is generated on first start and kept in a file of
//! the data directory, readable by its owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or write the secret file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("the secret file {path} is empty")]
    Empty { path: String },
}

/// Whether a secret was read or made by this call, so the caller can announce a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Loaded {
    Existing(String),
    Created(String),
}

impl Loaded {
    pub(crate) fn value(&self) -> &str {
        match self {
            Loaded::Existing(v) | Loaded::Created(v) => v,
        }
    }
}

/// `configured` when set; else the content of `dir/file`, created with a random value.
pub(crate) fn load_or_create(
    configured: Option<&str>,
    dir: &Path,
    file: &str,
) -> Result<Loaded, SecretError> {
    if let Some(v) = configured.filter(|v| !v.is_empty()) {
        return Ok(Loaded::Existing(v.to_owned()));
    }
    let path = dir.join(file);
    let err = |source| SecretError::File {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(v) if v.trim().is_empty() => Err(SecretError::Empty {
            path: path.display().to_string(),
        }),
        Ok(v) => Ok(Loaded::Existing(v.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_private_dir(dir).map_err(err)?;
            let value = random_hex(32)?;
            write_private(&path, &value).map_err(err)?;
            info!(path = %path.display(), "generated a new secret");
            Ok(Loaded::Created(value))
        }
        Err(e) => Err(err(e)),
    }
}

/// `bytes` random bytes, hex-encoded.
pub(crate) fn random_hex(bytes: usize) -> Result<String, SecretError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| SecretError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates `path` readable and writable by its owner only; fails if it exists, so two
/// servers starting at once cannot overwrite each other's secret.
fn write_private(path: &PathBuf, value: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(value.as_bytes())?;
    file.sync_all()
}

/// Creates `dir` and any missing parents, each readable by its owner only; an existing
/// directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Where generated secrets go: the configured data directory, else the SQLite file's
/// directory, else (an in-memory database) the working directory.
pub(crate) fn data_dir(configured: Option<&Path>, database_url: &str) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_owned();
    }
    // Postgres keeps the secrets in the database.
    if database_url.starts_with("postgres") {
        return PathBuf::from(".");
    }
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|f| f.split('?').next().unwrap_or(f));
    match file {
        Some(f) if !f.is_empty() && !f.starts_with(":memory:") => Path::new(f)
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
        _ => {
            warn!("no database file to keep secrets beside; using the working directory");
            PathBuf::from(".")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("data");
        let first = load_or_create(None, &sub, "secret").unwrap();
        assert!(matches!(first, Loaded::Created(_)));
        assert_eq!(first.value().len(), 64);
        let again = load_or_create(None, &sub, "secret").unwrap();
        assert_eq!(again, Loaded::Existing(first.value().to_owned()));
        let configured = load_or_create(Some("abc"), &sub, "secret").unwrap();
        assert_eq!(configured.value(), "abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&sub.join("secret")), 0o600);
            assert_eq!(mode(&sub), 0o700, "a directory it made");
        }
    }

    #[test]
    fn the_data_dir_defaults_to_the_database_directory() {
        assert_eq!(
            data_dir(None, "sqlite://data/palaver.db"),
            PathBuf::from("data")
        );
        assert_eq!(
            data_dir(None, "sqlite:///var/lib/p/x.db?mode=rwc"),
            PathBuf::from("/var/lib/p")
        );
        assert_eq!(
            data_dir(Some(Path::new("/etc/p")), "sqlite://x.db"),
            PathBuf::from("/etc/p")
        );
    }
}
