//! A client for the CLI: channels to the services with the bearer token on
//! every call.

use crate::pb::admin_client::AdminClient;
use crate::pb::jobs_client::JobsClient;
use crate::pb::workers_client::WorkersClient;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer TOKEN` to each request.
#[derive(Debug, Clone)]
pub struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The token holds what a header cannot.
    #[error("the token is not a valid header value")]
    Token,
    /// The address is not a URI.
    #[error("`{0}` is not a server address (host:port or a URL)")]
    Address(String),
    /// The server could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// A `Jobs` client with a token.
pub type Jobs = JobsClient<InterceptedService<Channel, Bearer>>;
/// A `Workers` client with a token.
pub type Workers = WorkersClient<InterceptedService<Channel, Bearer>>;

/// Connects to `addr` (`host:port` or a URL) with `token`, in plain text
/// unless the URL is `https://`.
pub async fn connect(addr: &str, token: &str) -> Result<(Jobs, Workers), ClientError> {
    connect_with(addr, token, None).await
}

/// Connects as [`connect`] does; with `ca_pem` (a PEM certificate
/// authority to trust), over TLS, the server's name checked against its
/// certificate.
pub async fn connect_with(addr: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<(Jobs, Workers), ClientError> {
    let (channel, bearer) = channel_with(addr, token, ca_pem).await?;
    Ok((
        JobsClient::with_interceptor(channel.clone(), bearer.clone()),
        WorkersClient::with_interceptor(channel, bearer),
    ))
}

/// An `Admin` client with a token.
pub type Admin = AdminClient<InterceptedService<Channel, Bearer>>;

/// Connects to the `Admin` service as [`connect_with`] does.
pub async fn connect_admin(addr: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<Admin, ClientError> {
    let (channel, bearer) = channel_with(addr, token, ca_pem).await?;
    Ok(AdminClient::with_interceptor(channel, bearer))
}

/// A channel to `addr` and the interceptor that adds `token`.
async fn channel_with(addr: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<(Channel, Bearer), ClientError> {
    let scheme = if ca_pem.is_some() { "https" } else { "http" };
    let url = if addr.contains("://") { addr.to_string() } else { format!("{scheme}://{addr}") };
    let value: MetadataValue<_> = format!("Bearer {token}").parse().map_err(|_| ClientError::Token)?;
    let mut endpoint = Channel::from_shared(url).map_err(|_| ClientError::Address(addr.to_string()))?;
    if let Some(ca) = ca_pem {
        let tls = tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(ca));
        endpoint = endpoint.tls_config(tls).map_err(|source| ClientError::Connect { addr: addr.to_string(), source })?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| ClientError::Connect { addr: addr.to_string(), source })?;
    Ok((channel, Bearer(value)))
}

pub use tonic::{Code, Status};
