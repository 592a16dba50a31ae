//! What every client of `foresight serve` shares (`submit`, `jobs`,
//! `worker`): the server's address, the token (`--token` or
//! `FORESIGHT_TOKEN`), the async runtime, and gRPC errors as exit codes.

use super::BadInput;
use anyhow::Context;
use clap::Args;
use foresight_server::client::{self, Code, Jobs, Status, Workers};

/// The server and the token.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The server's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub server: String,
    /// The bearer token (else `FORESIGHT_TOKEN`).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Connect over TLS, trusting this certificate authority (PEM); the
    /// server's name must match its certificate.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

impl ClientArgs {
    /// Connects with the token.
    pub async fn connect(&self) -> anyhow::Result<(Jobs, Workers)> {
        let (token, ca) = self.credentials()?;
        Ok(client::connect_with(&self.server, &token, ca.as_deref()).await?)
    }

    /// Connects to the `Admin` service with the token.
    pub async fn connect_admin(&self) -> anyhow::Result<client::Admin> {
        let (token, ca) = self.credentials()?;
        Ok(client::connect_admin(&self.server, &token, ca.as_deref()).await?)
    }

    /// The token and the certificate authority's PEM, if any.
    fn credentials(&self) -> anyhow::Result<(String, Option<Vec<u8>>)> {
        let token = match &self.token {
            Some(t) => t.clone(),
            None => std::env::var("FORESIGHT_TOKEN")
                .map_err(|_| BadInput("no token: pass --token or set FORESIGHT_TOKEN".into()))?,
        };
        let ca = match &self.ca {
            Some(f) => Some(std::fs::read(f).with_context(|| format!("cannot read the certificate authority {}", f.display()))?),
            None => None,
        };
        Ok((token, ca))
    }
}

/// A gRPC error as the command's error: a refused argument is bad input
/// (exit code 2).
pub fn rpc(s: Status) -> anyhow::Error {
    let msg = format!("{}: {}", code_name(s.code()), s.message());
    match s.code() {
        Code::InvalidArgument | Code::Unauthenticated | Code::PermissionDenied | Code::NotFound => BadInput(msg).into(),
        _ => anyhow::anyhow!(msg),
    }
}

fn code_name(c: Code) -> &'static str {
    match c {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Unavailable => "UNAVAILABLE",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        _ => "ERROR",
    }
}

/// Runs `f` on a fresh multi-threaded runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}
