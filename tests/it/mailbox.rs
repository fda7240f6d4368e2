//! A real SMTP server for the notification tests: Python's `aiosmtpd` (PyPI), run as a child
//! process on 127.0.0.1 with its `Mailbox` handler, so every message it accepts lands in a
//! Maildir of the test's own, read back here as received — headers and body. It can be stopped
//! and started again on the same port (an outage). Killed when dropped.
//!
//! It needs the tests' Python venv (`$CAREPATH_FHIR_PYTHON`, default
//! `/var/tmp/carepath-py/bin/python`) with `aiosmtpd` installed; `scripts/test` brings it.
//! Without it a test fails and says what to install: none is skipped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Python of the tests' venv.
pub fn python() -> String {
    std::env::var("CAREPATH_FHIR_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/carepath-py/bin/python".into())
}

/// One message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// Every header, as (name lower-cased, value unfolded).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The whole message as text (headers and body), for what it must not say: all that the
    /// sender sent, the envelope included (`X-MailFrom`, `X-RcptTo`), but not `X-Peer`, the
    /// address and source port the receiving server saw the connection come from — a port the
    /// system picks, which may hold any digits (44710 once held a record number's 4471).
    pub fn text(&self) -> String {
        let mut t = String::new();
        for (n, v) in self.headers.iter().filter(|(n, _)| n != "x-peer") {
            t.push_str(&format!("{n}: {v}\n"));
        }
        t.push('\n');
        t.push_str(&self.body);
        t
    }
}

pub struct Mailbox {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mailbox {
    /// A server on a free port.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut m = Mailbox {
            port,
            dir: tempfile::tempdir().expect("a Maildir"),
            child: None,
        };
        m.resume().await;
        m
    }

    /// `smtp://` URL of this server (plain: it runs on this machine).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Start (again) on the same port.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "the SMTP server runs already");
        let python = python();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the notification tests need a real SMTP server: Python's aiosmtpd, run by \
                     {python} ({e}); run scripts/test, which installs it into the tests' venv"
                )
            });
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let mut err = String::new();
                if let Some(mut e) = self.child.take().and_then(|mut c| c.stderr.take()) {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "aiosmtpd exited ({status}): {err}\nrun scripts/test, which installs aiosmtpd \
                     into the tests' venv ({python})"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen on port {} within 10 s", self.port);
    }

    /// Stop the server: connections are refused until [`Self::resume`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, in the order they arrived.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .flat_map(|d| {
                std::fs::read_dir(self.maildir().join(d))
                    .into_iter()
                    .flatten()
            })
            .flatten()
            .map(|e| {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| parse(&std::fs::read_to_string(&path).expect("a message")))
            .collect()
    }

    /// Wait until at least `n` messages arrived (at most 30 s), and return them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..600 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} messages, the SMTP server received {}",
            self.received().len()
        );
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A message as stored: headers (folded lines joined) and a body, quoted-printable undone.
fn parse(raw: &str) -> Received {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let quoted = headers.iter().any(|(n, v)| {
        n == "content-transfer-encoding" && v.eq_ignore_ascii_case("quoted-printable")
    });
    let body = if quoted {
        unquote(body)
    } else {
        body.to_owned()
    };
    Received { headers, body }
}

fn unquote(s: &str) -> String {
    let s = s.replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
