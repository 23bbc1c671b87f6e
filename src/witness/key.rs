//! Reading a witness key: a file of its own, or a systemd credential.
//!
//! The file holds the key as text (for instance `openssl rand -hex 32`); white space at
//! either end is not part of it. It must not be readable by others than its owner and
//! group: whoever reads it can make a BACKUP stay BACKUP (see the witness security notes).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::proto::{Key, MAX_KEY_LEN, MIN_KEY_LEN};
use crate::config::{Config, WitnessKey};
use crate::track::ProgramVerdict;

/// The environment variable systemd sets to the directory of a unit's credentials.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// Why a witness key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read witness key {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Others may read or change the file.
    #[error("witness key {path} is accessible to others (mode {mode:04o}): `chmod o-rwx {path}`")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Too short or too long once trimmed.
    #[error(
        "witness key {path} holds {len} bytes: a key is {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes \
         (e.g. `openssl rand -hex 32 > {path}`)"
    )]
    Length {
        /// The file.
        path: PathBuf,
        /// Its length once trimmed.
        len: usize,
    },
    /// `witness-key-credential` outside a unit that loads credentials.
    #[error(
        "witness key credential {name:?}: ${CREDENTIALS_DIRECTORY} is not set (give the unit \
         `LoadCredential={name}:/path/to/key`, or use witness-key-file)"
    )]
    NoCredentials {
        /// The credential's name.
        name: String,
    },
}

/// The file a key source names (`$CREDENTIALS_DIRECTORY/NAME` for a credential).
pub fn path_of(source: &WitnessKey) -> Result<PathBuf, KeyError> {
    match source {
        WitnessKey::File(p) => Ok(p.clone()),
        WitnessKey::Credential(name) => match std::env::var_os(CREDENTIALS_DIRECTORY) {
            Some(dir) => Ok(Path::new(&dir).join(name)),
            None => Err(KeyError::NoCredentials { name: name.clone() }),
        },
    }
}

/// Read the key a source names.
pub fn load(source: &WitnessKey) -> Result<Key, KeyError> {
    load_file(&path_of(source)?)
}

/// Read a key file (see the module documentation for its form).
pub fn load_file(path: &Path) -> Result<Key, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o7777;
    if mode & 0o007 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    // One byte past the longest key plus room for white space tells "too long" apart.
    let mut bytes = Vec::new();
    file.take((MAX_KEY_LEN + 4096) as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let key = bytes.trim_ascii();
    Key::new(key).map_err(|_| KeyError::Length {
        path: path.to_path_buf(),
        len: key.len(),
    })
}

/// `vrrp-ha check` on the witness keys of a configuration: a key the daemon could not
/// use is refused; one that is not there yet (not deployed here, or a credential outside
/// its unit) is a warning, as a missing script is (the daemon will not start without it).
pub fn vet(config: &Config) -> ProgramVerdict {
    let mut verdict = ProgramVerdict::default();
    for i in &config.instances {
        let Some(w) = &i.witness else {
            continue;
        };
        let what = format!("instance {:?}: witness key", i.name);
        match load(&w.key) {
            Ok(_) => {}
            Err(KeyError::Io { path, source }) if source.kind() == std::io::ErrorKind::NotFound => {
                verdict.warnings.push(format!(
                    "{what}: cannot access `{}`: {source}; the daemon will not start without it",
                    path.display()
                ));
            }
            Err(e @ KeyError::NoCredentials { .. }) => {
                verdict
                    .warnings
                    .push(format!("{what}: not checked outside its unit: {e}"));
            }
            Err(e) => verdict.refused.push(format!("{what}: {e}")),
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &[u8], mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write key");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    #[test]
    fn keys_are_read_trimmed_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = write(dir.path(), "good", b"  0123456789abcdef0123\n", 0o600);
        assert!(load_file(&good).is_ok());
        let group = write(dir.path(), "group", b"0123456789abcdef", 0o640);
        assert!(load_file(&group).is_ok());
        let open = write(dir.path(), "open", b"0123456789abcdef", 0o644);
        let e = load_file(&open).expect_err("world-readable");
        assert!(e.to_string().contains("mode 0644"), "{e}");
        let short = write(dir.path(), "short", b"short\n", 0o600);
        let e = load_file(&short).expect_err("short");
        assert!(e.to_string().contains("holds 5 bytes"), "{e}");
        let long = write(dir.path(), "long", &[b'k'; 5000], 0o600);
        assert!(matches!(load_file(&long), Err(KeyError::Length { .. })));
        let missing = dir.path().join("missing");
        assert!(matches!(load_file(&missing), Err(KeyError::Io { .. })));
    }

    #[test]
    fn a_file_source_is_its_own_path() {
        let p = PathBuf::from("/etc/vrrp-ha/witness.key");
        assert_eq!(path_of(&WitnessKey::File(p.clone())).ok(), Some(p));
    }
}
