//! Compiles `proto/foresight/v1/*.proto` with protox (a protobuf compiler in
//! Rust, so no system `protoc` is needed) and generates the tonic code and
//! the file descriptor set that server reflection serves.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let files = [
        root.join("foresight/v1/jobs.proto"),
        root.join("foresight/v1/workers.proto"),
        root.join("foresight/v1/admin.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("foresight_v1_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
