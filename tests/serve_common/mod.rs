//! What the end-to-end tests of `foresight serve` share: the store a
//! test's servers keep their data in, and running each test on both.

use std::process::Command;

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
