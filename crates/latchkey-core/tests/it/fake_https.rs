//! A stand-in for providers' real hosts: one HTTPS server on 127.0.0.1 with a certificate for every
//! host name it answers (signed by a throw-away CA the client trusts), recording each request and
//! answering from a script. The core's real HTTP client talks to it with the providers' real URLs
//! (`Http::resolving`), so the bytes asserted are the bytes a provider would receive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub host: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The form body's parameters.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// `(user, password)` of an `Authorization: Basic` header.
    pub fn basic(&self) -> Option<(String, String)> {
        use base64_decode as b64;
        let value = self.header("authorization")?.strip_prefix("Basic ")?;
        let text = String::from_utf8(b64(value)?).ok()?;
        let (u, p) = text.split_once(':')?;
        let dec = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
        };
        Some((dec(u)?, dec(p)?))
    }
}

/// What the server answers: status, content type, body.
pub type Answer = (u16, &'static str, String);
type Script = Arc<Mutex<Box<dyn Fn(&Request) -> Answer + Send>>>;

pub struct FakeHttps {
    /// A turn beside the other tests (`support::shared`).
    _turn: crate::support::Shared,
    pub addr: SocketAddr,
    pub ca_pem: Vec<u8>,
    log: Arc<Mutex<Vec<Request>>>,
    script: Script,
}

impl FakeHttps {
    pub fn start(hosts: &[&str]) -> FakeHttps {
        let turn = crate::support::shared();
        let (ca, ca_key) = make_ca();
        let (cert, key) = make_leaf(hosts, &ca, &ca_key);
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("acceptor");
        acceptor.set_private_key(&key).expect("key");
        acceptor.set_certificate(&cert).expect("cert");
        acceptor.add_extra_chain_cert(ca.clone()).expect("chain");
        let acceptor = Arc::new(acceptor.build());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let script: Script =
            Arc::new(Mutex::new(Box::new(|_: &Request| (404, "text/plain", "no script".to_owned()))));
        let (log2, script2) = (log.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (acceptor, log, script) = (acceptor.clone(), log2.clone(), script2.clone());
                std::thread::spawn(move || {
                    let Ok(mut tls) = acceptor.accept(stream) else { return };
                    let Some(request) = read_request(&mut tls) else { return };
                    log.lock().expect("lock").push(request.clone());
                    let (status, content_type, body) = (script.lock().expect("lock"))(&request);
                    let _ = write!(
                        tls,
                        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.shutdown();
                });
            }
        });
        FakeHttps { _turn: turn, addr, ca_pem: ca.to_pem().expect("pem"), log, script }
    }

    /// Replaces the script and forgets the requests so far.
    pub fn answer(&self, script: impl Fn(&Request) -> Answer + Send + 'static) {
        *self.script.lock().expect("lock") = Box::new(script);
        self.log.lock().expect("lock").clear();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("lock").clone()
    }
}

fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let host = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone())?;
    Some(Request { method, host, target, headers, body: String::from_utf8(body).ok()? })
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
    PKey::from_ec_key(EcKey::generate(&group).expect("ec key")).expect("pkey")
}

fn make_ca() -> (X509, PKey<Private>) {
    let key = key();
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "Latchkey test CA").expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    b.set_serial_number(&BigNum::from_u32(1).expect("bn").to_asn1_integer().expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time")).expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("time")).expect("na");
    b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc")).expect("ext");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (b.build(), key)
}

fn make_leaf(hosts: &[&str], ca: &X509, ca_key: &PKey<Private>) -> (X509, PKey<Private>) {
    let key = key();
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", hosts[0]).expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    b.set_serial_number(&BigNum::from_u32(2).expect("bn").to_asn1_integer().expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(ca.subject_name()).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time")).expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("time")).expect("na");
    let mut san = SubjectAlternativeName::new();
    hosts.iter().for_each(|h| {
        san.dns(h);
    });
    let san = san.build(&b.x509v3_context(Some(ca), None)).expect("san");
    b.append_extension(san).expect("ext");
    b.sign(ca_key, MessageDigest::sha256()).expect("sign");
    (b.build(), key)
}

/// Standard base64, for the Basic header (no dependency for eight lines).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let v: Vec<u8> = chunk.iter().map(|&c| value(c)).collect::<Option<_>>()?;
        let n = v.iter().fold(0u32, |acc, &x| (acc << 6) | u32::from(x)) << (6 * (4 - v.len()));
        out.extend_from_slice(&n.to_be_bytes()[1..v.len()]);
    }
    Some(out)
}
