//! What the end-to-end tests of `foresight serve` share: the store a
//! test's servers keep their data in, and running each test on both.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_foresight");

/// Which store a test's servers keep their data in.
#[derive(Debug, Clone)]
pub enum Backend {
    /// SQLite in the server's data folder.
    Sqlite,
    /// A PostgreSQL database, by URL.
    Postgres(String),
}

impl Backend {
    /// `--store URL`, or nothing for SQLite.
    pub fn args(&self) -> Vec<String> {
        match self {
            Backend::Sqlite => Vec::new(),
            Backend::Postgres(url) => vec!["--store".into(), url.clone()],
        }
    }

    /// A fresh database for test `name`, or `None` where there is no
    /// PostgreSQL (a failure with `FORESIGHT_REQUIRE_POSTGRES=1`).
    pub fn postgres(name: &str) -> Option<Backend> {
        static SERVER: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
        let base = SERVER.get_or_init(|| {
            if let Ok(u) = std::env::var("FORESIGHT_PG_URL") {
                return Ok(u);
            }
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-up.sh");
            match Command::new("bash").arg(script).output() {
                Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
                Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
                Err(e) => Err(e.to_string()),
            }
        });
        let base = match base {
            Ok(b) => b,
            Err(why) => {
                assert!(std::env::var("FORESIGHT_REQUIRE_POSTGRES").as_deref() != Ok("1"), "no PostgreSQL: {why}");
                eprintln!("{name}: skipped on PostgreSQL: none here ({why})");
                return None;
            }
        };
        // the process id keeps two test binaries' databases apart;
        // PostgreSQL's names stop at 63 bytes
        let db = format!("fs_{name}_{}", std::process::id());
        let db = &db[..db.len().min(63)];
        let mut admin = ::postgres::Client::connect(&format!("{base}/postgres"), ::postgres::NoTls).unwrap();
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        Some(Backend::Postgres(format!("{base}/{db}")))
    }
}

/// `foresight serve token add` on the store `b` and `data` name: the new
/// token.
pub fn token(data: &Path, b: &Backend, tenant: &str, role: &str) -> String {
    let o = Command::new(BIN)
        .args(["serve", "token", "add", "--tenant", tenant, "--role", role])
        .args(["--data", data.to_str().unwrap()])
        .args(b.args())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// `foresight ARGS` as a client of the server at `addr` with token `tok`
/// (`--server` and `--token` go before a `--`).
pub fn cli(addr: &str, tok: &str, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    let at = all.iter().position(|a| *a == "--").unwrap_or(all.len());
    all.splice(at..at, ["--server", addr, "--token", tok]);
    Command::new(BIN).args(&all).output().unwrap()
}

/// What a `foresight serve` just started printed on its standard output
/// (piped): the line that says where it listens, its address (`None` when
/// that line does not say), and, when it was started with `--metrics`, the
/// metrics URL from the next line.
pub struct Banner {
    /// The first line.
    pub line: String,
    /// The address after `listening on`.
    pub addr: Option<String>,
    /// The URL after `metrics on`.
    pub metrics: Option<String>,
}

/// Reads `child`'s [`Banner`]; `metrics` when it was started with
/// `--metrics`.
pub fn banner(child: &mut Child, metrics: bool) -> Banner {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line.split("listening on ").nth(1).and_then(|s| s.split(' ').next()).map(str::to_string);
    let metrics = metrics.then(|| {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        l.split("metrics on ").nth(1).expect(&l).trim().to_string()
    });
    Banner { line, addr, metrics }
}

/// `GET URL` (a server's `/metrics`) over plain HTTP/1.0, which must
/// answer 200: the body.
pub fn scrape(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut c = std::net::TcpStream::connect(host).unwrap();
    write!(c, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"), "{text}");
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// Each test function, run on SQLite and on PostgreSQL.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(b) = super::Backend::postgres(stringify!($name)) {
                    super::$name(b)
                }
            })*
        }
    };
}
