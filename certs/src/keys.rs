//! Ed25519 signing keys and their files.
//!
//! # Key files
//!
//! Both are UTF-8 text, one `field: value` per line after a header line;
//! lines starting with `#` are comments:
//!
//! ```text
//! axiom-secret-key v1
//! # keep this file private
//! key-id: 5d6c0f1e9a8b7c6d5e4f30211203f4e5
//! secret: <64 hex digits: the 32-byte ed25519 seed>
//! ```
//!
//! ```text
//! axiom-public-key v1
//! key-id: 5d6c0f1e9a8b7c6d5e4f30211203f4e5
//! public: <64 hex digits: the 32-byte ed25519 public key>
//! ```
//!
//! The key id is the first 16 bytes of `sha256(public key)` in hex; reading
//! a file checks that it matches the key. [`write_keypair`] creates the
//! secret file with mode 0600 and refuses to replace either file unless
//! asked to.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

const SECRET_HEADER: &str = "axiom-secret-key v1";
const PUBLIC_HEADER: &str = "axiom-public-key v1";

/// An error reading, writing or using a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file is not a key file of this format (with where and a hint).
    #[error("{path}:{line}: {message}\n  hint: {hint}")]
    Format {
        path: String,
        line: usize,
        message: String,
        hint: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// A public key that checks signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// A secret key that signs.
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public().id())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

impl PublicKey {
    /// The key id: the first 16 bytes of sha256 of the key, in hex.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..16])
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key from its 32 bytes (refused when they are not a valid point).
    pub fn from_bytes(bytes: &[u8]) -> Option<PublicKey> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok().map(PublicKey)
    }

    /// Whether `signature` signs `message` under this key (strict ed25519
    /// verification: no malleable or small-order forms).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let sig = Signature::from_bytes(&bytes);
        self.0.verify_strict(message, &sig).is_ok() && self.0.verify(message, &sig).is_ok()
    }

    /// The key file's text.
    pub fn to_file_text(&self) -> String {
        format!(
            "{PUBLIC_HEADER}\nkey-id: {}\npublic: {}\n",
            self.id(),
            hex::encode(self.0.as_bytes())
        )
    }

    /// Reads a public key file's text (`path` names it in errors).
    pub fn from_file_text(text: &str, path: &str) -> Result<PublicKey, KeyError> {
        let fields = parse_fields(text, path, PUBLIC_HEADER, "public")?;
        let (line, bytes) = fields.key.clone();
        let key = PublicKey::from_bytes(&bytes).ok_or_else(|| KeyError::Format {
            path: path.into(),
            line,
            message: if bytes.len() == 32 {
                "not a valid ed25519 public key".into()
            } else {
                format!(
                    "the public key has {} bytes ({} hex digits); it must have 32 (64 hex digits)",
                    bytes.len(),
                    2 * bytes.len()
                )
            },
            hint: "the file is damaged; copy it again from whoever made the key".into(),
        })?;
        fields.check_id(&key, path)?;
        Ok(key)
    }

    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = read_text(path)?;
        PublicKey::from_file_text(&text, &path.display().to_string())
    }
}

impl SecretKey {
    /// A new random key (from the operating system's generator).
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Io {
            path: "(random generator)".into(),
            message: format!("no randomness available: {e}"),
        })?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// The key from its 32-byte seed (for tests and key escrow).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The key file's text.
    pub fn to_file_text(&self) -> String {
        format!(
            "{SECRET_HEADER}\n# keep this file private\nkey-id: {}\nsecret: {}\n",
            self.public().id(),
            hex::encode(self.0.to_bytes())
        )
    }

    /// Reads a secret key file's text (`path` names it in errors).
    pub fn from_file_text(text: &str, path: &str) -> Result<SecretKey, KeyError> {
        let fields = parse_fields(text, path, SECRET_HEADER, "secret")?;
        let (line, bytes) = fields.key.clone();
        let seed: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| KeyError::Format {
            path: path.into(),
            line,
            message: format!(
                "the secret has {} bytes ({} hex digits); it must have 32 (64 hex digits)",
                b.len(),
                2 * b.len()
            ),
            hint: "the file was cut short or damaged".into(),
        })?;
        let key = SecretKey::from_seed(seed);
        fields.check_id(&key.public(), path)?;
        Ok(key)
    }

    /// Reads a secret key file.
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        let text = read_text(path)?;
        SecretKey::from_file_text(&text, &path.display().to_string())
    }
}

/// Where [`write_keypair`] puts the public key: `KEY.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut s = secret.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Writes `key` to `path` (mode 0600) and its public half to `path.pub`.
/// Refuses when either exists, unless `force`.
pub fn write_keypair(key: &SecretKey, path: &Path, force: bool) -> Result<PathBuf, KeyError> {
    let pub_path = public_path(path);
    if !force {
        for p in [path, pub_path.as_path()] {
            if p.exists() {
                return Err(KeyError::Io {
                    path: p.display().to_string(),
                    message: "already exists; refusing to overwrite it (pass --force to replace the key pair)".into(),
                });
            }
        }
    }
    write_file(path, key.to_file_text().as_bytes(), true)?;
    write_file(&pub_path, key.public().to_file_text().as_bytes(), false)?;
    Ok(pub_path)
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), KeyError> {
    let io = |e: std::io::Error| KeyError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    // Written beside the target, then renamed over it: a reader never sees a
    // half-written key, and the secret is never readable by others.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let _ = secret;
    let result = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, KeyError> {
    let bytes = axiom_core::read_raw_file(path).map_err(|e| KeyError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| KeyError::Format {
        path: path.display().to_string(),
        line: 1,
        message: "not a text file".into(),
        hint: "key files are text; is this the right file?".into(),
    })
}

/// What is wrong with a hex field, as a sentence's tail (the `hex` crate
/// says "Odd number of digits").
fn hex_error(e: &hex::FromHexError) -> String {
    match e {
        hex::FromHexError::InvalidHexCharacter { c, index } => {
            format!("character {} ('{c}') is not a hex digit", index + 1)
        }
        hex::FromHexError::OddLength => "it has an odd number of digits".into(),
        hex::FromHexError::InvalidStringLength => "it has the wrong number of digits".into(),
    }
}

struct Fields {
    id: Option<(usize, String)>,
    key: (usize, Vec<u8>),
}

impl Fields {
    fn check_id(&self, key: &PublicKey, path: &str) -> Result<(), KeyError> {
        match &self.id {
            Some((line, id)) if *id != key.id() => Err(KeyError::Format {
                path: path.into(),
                line: *line,
                message: format!(
                    "the key id {id} does not match the key (whose id is {})",
                    key.id()
                ),
                hint: "the file was edited or damaged".into(),
            }),
            _ => Ok(()),
        }
    }
}

fn parse_fields(text: &str, path: &str, header: &str, key_field: &str) -> Result<Fields, KeyError> {
    let bad = |line: usize, message: String, hint: &str| KeyError::Format {
        path: path.into(),
        line,
        message,
        hint: hint.into(),
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, h)) if h == header => {}
        Some((n, h)) => {
            let other = if header == SECRET_HEADER {
                PUBLIC_HEADER
            } else {
                SECRET_HEADER
            };
            let hint = if h == other {
                "this is the other half of a key pair: a secret key signs, a public key (KEY.pub) checks"
            } else {
                "make a key pair with `axiom keygen --out KEY`"
            };
            return Err(bad(n, format!("expected the header '{header}'"), hint));
        }
        None => {
            return Err(bad(
                1,
                "the file is empty".into(),
                "make a key pair with `axiom keygen --out KEY`",
            ));
        }
    }
    let mut id = None;
    let mut key = None;
    for (n, line) in lines {
        let Some((field, value)) = line.split_once(':') else {
            return Err(bad(
                n,
                format!("expected 'field: value', got '{line}'"),
                "the file was edited or damaged",
            ));
        };
        let value = value.trim();
        match field.trim() {
            "key-id" if id.is_none() => id = Some((n, value.to_string())),
            f if f == key_field && key.is_none() => {
                let bytes = hex::decode(value).map_err(|e| {
                    bad(
                        n,
                        format!("'{f}' is not hex: {}", hex_error(&e)),
                        "the file was cut short, edited or damaged",
                    )
                })?;
                key = Some((n, bytes));
            }
            f => {
                return Err(bad(
                    n,
                    format!("unexpected or repeated field '{f}'"),
                    "the file was edited or damaged",
                ));
            }
        }
    }
    let key = key.ok_or_else(|| {
        bad(
            1,
            format!("the field '{key_field}' is missing"),
            "the file was edited or damaged",
        )
    })?;
    Ok(Fields { id, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sign_verify_and_round_trip_through_their_files() {
        let key = SecretKey::from_seed([7; 32]);
        let public = key.public();
        let sig = key.sign(b"message");
        assert!(public.verifies(b"message", &sig));
        assert!(!public.verifies(b"messagE", &sig));
        assert!(!public.verifies(b"message", &sig[..63]));
        let other = SecretKey::from_seed([8; 32]).public();
        assert!(!other.verifies(b"message", &sig));

        let read = SecretKey::from_file_text(&key.to_file_text(), "k").unwrap();
        assert_eq!(read.public(), public);
        let read = PublicKey::from_file_text(&public.to_file_text(), "k.pub").unwrap();
        assert_eq!(read, public);
        assert_eq!(public.id().len(), 32);
    }

    #[test]
    fn damaged_key_files_are_refused_with_the_line() {
        let key = SecretKey::from_seed([7; 32]);
        let text = key.to_file_text();
        // The halves swapped.
        let e = PublicKey::from_file_text(&text, "k")
            .unwrap_err()
            .to_string();
        assert!(e.contains("other half"), "{e}");
        // A changed id.
        let bad = text.replace("key-id: ", "key-id: 00");
        let e = SecretKey::from_file_text(&bad, "k")
            .unwrap_err()
            .to_string();
        assert!(e.contains("k:3:") && e.contains("does not match"), "{e}");
        // Not hex, truncated, empty.
        assert!(SecretKey::from_file_text(&text.replace("secret: ", "secret: zz"), "k").is_err());
        let cut = &text[..text.len() - 10];
        assert!(SecretKey::from_file_text(cut, "k").is_err());
        assert!(SecretKey::from_file_text("", "k").is_err());
        assert!(PublicKey::from_file_text("axiom-public-key v1\npublic: 00\n", "k").is_err());
    }

    #[test]
    fn keypairs_are_not_overwritten_and_the_secret_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = SecretKey::generate().unwrap();
        let pub_path = write_keypair(&key, &path, false).unwrap();
        assert_eq!(pub_path, dir.path().join("key.pub"));
        assert_eq!(PublicKey::load(&pub_path).unwrap(), key.public());
        let again = SecretKey::generate().unwrap();
        assert!(write_keypair(&again, &path, false).is_err());
        assert_eq!(SecretKey::load(&path).unwrap().public(), key.public());
        write_keypair(&again, &path, true).unwrap();
        assert_eq!(SecretKey::load(&path).unwrap().public(), again.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
