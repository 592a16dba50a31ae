//! The protocol's generated types and services (`proto/foresight/v1`).
#![allow(missing_docs, clippy::all)]

tonic::include_proto!("foresight.v1");

/// The encoded file descriptor set of the protocol, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("foresight_v1_descriptor");
