//! The Secret Service's D-Bus API, as far as the store uses it: one connection, one
//! `dh-ietf1024-sha256-aes128-cbc-pkcs7` session (secrets cross the bus encrypted, so a bus monitor
//! or a debugging capture never shows them), searches, unlocking with the service's prompt,
//! reading, writing, creating and deleting items.
//!
//! The key agreement is the specification's: RFC 2409's 1024-bit MODP group with generator 2, the
//! shared secret left-padded to 128 bytes, HKDF-SHA256 without salt or info to a 16-byte AES key.
//! The private exponent is 256 bits from the OS's random source: twice the group's security level,
//! as is usual for such groups, and a quarter of the work of a full-length one.
//!
//! Errors read as dbus-secret-service's (which keyring uses on Linux), so a failure is worded the
//! same whichever of the two met it.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use dbus::arg::{self, PropMap, RefArg, Variant};
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use dbus::blocking::{Connection, Proxy};
use dbus::message::MatchRule;
use dbus::strings::Path;
use num_bigint::BigUint;
use rand::RngCore;
use zeroize::Zeroizing;

const DEST: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE: &str = "org.freedesktop.Secret.Service";
const COLLECTION: &str = "org.freedesktop.Secret.Collection";
const ITEM: &str = "org.freedesktop.Secret.Item";
const PROMPT: &str = "org.freedesktop.Secret.Prompt";
const ALGORITHM: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";
/// Each call's reply timeout (a prompt's answer is waited for separately, without one).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// RFC 2409, section 6.2: the Second Oakley Group.
const MODP_1024: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22\
                         514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C\
                         42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFF\
                         FFFFFFFF";
const PRIVATE_BYTES: usize = 32;
const KEY_BYTES: usize = 16;
const IV_BYTES: usize = 16;

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;
type Key = Zeroizing<[u8; KEY_BYTES]>;

/// A failure, with dbus-secret-service's words.
#[derive(Debug)]
pub(super) enum SsError {
    Dbus(dbus::Error),
    /// An alias names no collection.
    NoResult,
    /// The user dismissed the Secret Service's prompt.
    Prompt,
    /// An answer of the wrong shape.
    Parse,
    Crypto(&'static str),
}

impl std::fmt::Display for SsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SsError::Dbus(e) => write!(f, "DBus error: {e}"),
            SsError::NoResult => f.write_str("Secret Service: no result found"),
            SsError::Prompt => f.write_str("Secret Service: unlock prompt was dismissed"),
            SsError::Parse => f.write_str("Unexpected Error: Parse"),
            SsError::Crypto(why) => write!(f, "Crypto error: {why}"),
        }
    }
}

impl From<dbus::Error> for SsError {
    fn from(e: dbus::Error) -> SsError {
        SsError::Dbus(e)
    }
}

type Result<T> = std::result::Result<T, SsError>;

/// A connection to the session bus with an open encrypted session.
pub(super) struct SecretService {
    conn: Connection,
    session: Path<'static>,
    key: Key,
}

/// What `SearchItems` found.
pub(super) struct Found {
    pub unlocked: Vec<Path<'static>>,
    pub locked: Vec<Path<'static>>,
}

impl SecretService {
    pub fn connect() -> Result<SecretService> {
        let conn = Connection::new_session()?;
        let (session, key) = open_session(&conn)?;
        Ok(SecretService { conn, session, key })
    }

    fn proxy<'a>(&'a self, path: &'a Path<'static>) -> Proxy<'a, &'a Connection> {
        self.conn.with_proxy(DEST, path.clone(), CALL_TIMEOUT)
    }

    fn service(&self) -> Proxy<'_, &Connection> {
        self.conn.with_proxy(DEST, SERVICE_PATH, CALL_TIMEOUT)
    }

    /// Items of every collection with all of `attributes`.
    pub fn search_items(&self, attributes: &HashMap<&str, &str>) -> Result<Found> {
        let (unlocked, locked): (Vec<Path<'static>>, Vec<Path<'static>>) =
            self.service().method_call(SERVICE, "SearchItems", (attributes,))?;
        Ok(Found { unlocked, locked })
    }

    /// The collection with the alias `default`.
    pub fn default_collection(&self) -> Result<Path<'static>> {
        let (path,): (Path<'static>,) = self.service().method_call(SERVICE, "ReadAlias", ("default",))?;
        if &*path == "/" { Err(SsError::NoResult) } else { Ok(path) }
    }

    /// Items of one collection with all of `attributes`.
    pub fn search_collection(
        &self,
        collection: &Path<'static>,
        attributes: &HashMap<&str, &str>,
    ) -> Result<Vec<Path<'static>>> {
        let (items,): (Vec<Path<'static>>,) =
            self.proxy(collection).method_call(COLLECTION, "SearchItems", (attributes,))?;
        Ok(items)
    }

    pub fn is_locked(&self, collection: &Path<'static>) -> Result<bool> {
        Ok(self.proxy(collection).get(COLLECTION, "Locked")?)
    }

    /// Unlocks an item or a collection, through the Secret Service's prompt if it asks for one.
    pub fn unlock(&self, object: &Path<'static>) -> Result<()> {
        let (_, prompt): (Vec<Path<'static>>, Path<'static>) =
            self.service().method_call(SERVICE, "Unlock", (vec![object.clone()],))?;
        self.prompt(prompt)
    }

    pub fn get_secret(&self, item: &Path<'static>) -> Result<Zeroizing<Vec<u8>>> {
        let ((_, iv, value, _),): ((Path<'static>, Vec<u8>, Vec<u8>, String),) =
            self.proxy(item).method_call(ITEM, "GetSecret", (self.session.clone(),))?;
        decrypt(&self.key, &iv, &Zeroizing::new(value))
    }

    pub fn set_secret(&self, item: &Path<'static>, value: &[u8], content_type: &str) -> Result<()> {
        let (iv, encrypted) = encrypt(&self.key, value);
        Ok(self.proxy(item).method_call(
            ITEM,
            "SetSecret",
            ((self.session.clone(), iv, encrypted, content_type),),
        )?)
    }

    pub fn create_item(
        &self,
        collection: &Path<'static>,
        label: &str,
        attributes: &HashMap<&str, &str>,
        value: &[u8],
        content_type: &str,
    ) -> Result<()> {
        let attributes: HashMap<String, String> =
            attributes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut properties = PropMap::new();
        properties.insert(format!("{ITEM}.Label"), Variant(Box::new(label.to_owned()) as Box<dyn RefArg>));
        properties.insert(format!("{ITEM}.Attributes"), Variant(Box::new(attributes) as Box<dyn RefArg>));
        let (iv, encrypted) = encrypt(&self.key, value);
        let secret = (self.session.clone(), iv, encrypted, content_type);
        let (_, prompt): (Path<'static>, Path<'static>) =
            self.proxy(collection).method_call(COLLECTION, "CreateItem", (properties, secret, true))?;
        self.prompt(prompt)
    }

    pub fn delete(&self, item: &Path<'static>) -> Result<()> {
        let (prompt,): (Path<'static>,) = self.proxy(item).method_call(ITEM, "Delete", ())?;
        self.prompt(prompt)
    }

    /// Shows the Secret Service's prompt `path` (none when it is `/`) and waits, without a time
    /// limit, for the user to answer it. Dismissed is [`SsError::Prompt`].
    fn prompt(&self, path: Path<'static>) -> Result<()> {
        if &*path == "/" {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel();
        let rule = MatchRule::new_signal(PROMPT, "Completed").with_path(path.clone());
        let token = self.conn.add_match(rule, move |(dismissed,): (bool,), _: &Connection, _: &_| {
            let _ = tx.send(dismissed);
            false
        })?;
        let answered = self
            .proxy(&path)
            .method_call::<(), _, _, _>(PROMPT, "Prompt", ("",))
            .map_err(SsError::from)
            .and_then(|()| {
                loop {
                    self.conn.process(Duration::from_secs(1))?;
                    match rx.try_recv() {
                        Ok(dismissed) => break Ok(dismissed),
                        Err(mpsc::TryRecvError::Empty) => continue,
                        Err(mpsc::TryRecvError::Disconnected) => break Err(SsError::Parse),
                    }
                }
            });
        let _ = self.conn.remove_match(token);
        if answered? { Err(SsError::Prompt) } else { Ok(()) }
    }
}

fn prime() -> &'static BigUint {
    static PRIME: OnceLock<BigUint> = OnceLock::new();
    PRIME.get_or_init(|| BigUint::parse_bytes(MODP_1024.as_bytes(), 16).unwrap_or_default())
}

/// A private exponent and its public value.
struct Keypair {
    private: BigUint,
    public: BigUint,
}

impl Keypair {
    fn generate() -> Keypair {
        let mut bytes = Zeroizing::new([0u8; PRIVATE_BYTES]);
        rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
        let private = BigUint::from_bytes_be(&bytes[..]);
        let public = BigUint::from(2u32).modpow(&private, prime());
        Keypair { private, public }
    }

    /// The AES key agreed with the holder of `peer` (their public value, big-endian). A value
    /// outside 2..p-2 would force a known shared secret, so it is refused.
    fn agree(&self, peer: &[u8]) -> Result<Key> {
        let p = prime();
        let peer = BigUint::from_bytes_be(peer);
        if peer <= BigUint::from(1u32) || peer >= p - 1u32 {
            return Err(SsError::Crypto("the Secret Service's public key is out of range"));
        }
        let shared = Zeroizing::new(peer.modpow(&self.private, p).to_bytes_be());
        let mut padded = Zeroizing::new([0u8; 128]);
        padded[128 - shared.len()..].copy_from_slice(&shared);
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, &padded[..])
            .expand(&[], &mut key[..])
            .map_err(|_| SsError::Crypto("HKDF"))?;
        Ok(key)
    }
}

fn open_session(conn: &Connection) -> Result<(Path<'static>, Key)> {
    let keypair = Keypair::generate();
    let service = conn.with_proxy(DEST, SERVICE_PATH, CALL_TIMEOUT);
    let (output, session): (Variant<Box<dyn RefArg + 'static>>, Path<'static>) =
        service.method_call(SERVICE, "OpenSession", (ALGORITHM, Variant(keypair.public.to_bytes_be())))?;
    let peer = arg::cast::<Vec<u8>>(&output.0).ok_or(SsError::Parse)?;
    Ok((session, keypair.agree(peer)?))
}

fn encrypt(key: &Key, plain: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut iv = [0u8; IV_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let encrypted =
        Aes128CbcEnc::new(key.as_ref().into(), (&iv).into()).encrypt_padded_vec_mut::<Pkcs7>(plain);
    (iv.to_vec(), encrypted)
}

/// Refuses an IV of the wrong length or bad padding (the service's answer is not trusted to be
/// well formed).
fn decrypt(key: &Key, iv: &[u8], encrypted: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let iv: &[u8; IV_BYTES] = iv.try_into().map_err(|_| SsError::Crypto("an IV that is not 16 bytes"))?;
    Aes128CbcDec::new(key.as_ref().into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(encrypted)
        .map(Zeroizing::new)
        .map_err(|_| SsError::Crypto("the secret does not decrypt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_rfc_2409s_second() {
        let p = prime();
        assert_eq!(p.bits(), 1024);
        // p = 2^1024 - 2^960 - 1 + 2^64 * (floor(2^894 pi) + 129093)
        assert_eq!(p.to_bytes_be()[..8], [0xff; 8]);
        assert_eq!(p.to_bytes_be()[120..], [0xff; 8]);
        assert_eq!(p.to_bytes_be()[8..12], [0xc9, 0x0f, 0xda, 0xa2]);
    }

    #[test]
    fn two_keypairs_agree_on_one_key_and_a_third_does_not() {
        let (a, b, c) = (Keypair::generate(), Keypair::generate(), Keypair::generate());
        let ab = a.agree(&b.public.to_bytes_be()).expect("agree");
        let ba = b.agree(&a.public.to_bytes_be()).expect("agree");
        assert_eq!(*ab, *ba);
        assert_ne!(*ab, *a.agree(&c.public.to_bytes_be()).expect("agree"));
        assert_ne!(a.public, b.public, "fresh exponents");
    }

    #[test]
    fn degenerate_public_values_are_refused() {
        let a = Keypair::generate();
        let p = prime();
        for peer in [BigUint::from(0u32), BigUint::from(1u32), p - 1u32, p.clone(), p + 5u32] {
            assert!(matches!(a.agree(&peer.to_bytes_be()), Err(SsError::Crypto(_))), "{peer}");
        }
    }

    #[test]
    fn encryption_round_trips_and_bad_answers_are_errors_not_panics() {
        let key: Key = Zeroizing::new([7u8; KEY_BYTES]);
        for plain in [&b""[..], b"x", b"sixteen bytes!!!", b"a-token-longer-than-one-block-0123456789"] {
            let (iv, encrypted) = encrypt(&key, plain);
            assert_eq!(encrypted.len(), (plain.len() / 16 + 1) * 16, "PKCS#7 pads every length");
            assert!(plain.is_empty() || !encrypted.windows(plain.len()).any(|w| w == plain));
            assert_eq!(&decrypt(&key, &iv, &encrypted).expect("decrypt")[..], plain);
        }
        let (iv, encrypted) = encrypt(&key, b"secret");
        assert!(matches!(decrypt(&key, &iv[..15], &encrypted), Err(SsError::Crypto(_))));
        assert!(matches!(decrypt(&key, &[], &encrypted), Err(SsError::Crypto(_))));
        assert!(matches!(decrypt(&key, &iv, &encrypted[..15]), Err(SsError::Crypto(_))));
        let other: Key = Zeroizing::new([8u8; KEY_BYTES]);
        assert!(decrypt(&other, &iv, &encrypted).map_or(true, |p| &p[..] != b"secret"));
    }
}
