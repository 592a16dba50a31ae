//! `foresight serve` over TLS, on loopback: a throwaway certificate
//! authority signs a certificate for `localhost`; the client that trusts
//! it submits and lists, a client in plain text or trusting another
//! authority is refused, and the server's key never reaches its output.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_foresight");

/// A certificate authority and, when `server` is given, a certificate it
/// signs for that name: `(ca.pem, cert.pem, key.pem)`.
fn authority(server: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "foresight test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![server.to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn a_client_that_trusts_the_servers_authority_is_served_over_tls_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (ca, cert, key) = authority("localhost");
    let (other_ca, _, _) = authority("localhost");
    let (ca, cert, key, other_ca) = (
        write(dir.path(), "ca.pem", &ca),
        write(dir.path(), "cert.pem", &cert),
        write(dir.path(), "key.pem", &key),
        write(dir.path(), "other-ca.pem", &other_ca),
    );
    let t = run(&["serve", "token", "add", "--tenant", "acme", "--role", "submitter", "--data", d]);
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let token = String::from_utf8(t.stdout).unwrap().trim().to_string();

    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", d, "--tls-cert", &cert, "--tls-key", &key])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("listening on ").nth(1).and_then(|s| s.split(' ').next()).expect(&line).to_string();
    let port = addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}");

    let submit = |server: &str, ca: Option<&str>| {
        let mut args = vec!["submit", "--server", server, "--token", &token, "--cpus", "1", "--key", "k1"];
        if let Some(ca) = ca {
            args.extend(["--ca", ca]);
        }
        args.extend(["--", "true"]);
        run(&args)
    };
    let ok = submit(&url, Some(&ca));
    assert!(ok.status.success(), "trusted: {}", String::from_utf8_lossy(&ok.stderr));
    let again = submit(&url, Some(&ca));
    assert!(again.status.success());
    let (first, second) = (String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&again.stdout));
    assert!(first.starts_with("job 1 submitted"), "{first}");
    assert!(second.starts_with("job 1 already submitted with this key"), "the same key, the same job: {second}");
    let listed = run(&["jobs", "--server", &url, "--token", &token, "--ca", &ca, "--json"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("acme"));

    let plain = submit(&addr, None);
    assert!(!plain.status.success(), "plain text to a TLS server is refused");
    let stranger = submit(&url, Some(&other_ca));
    assert!(!stranger.status.success(), "a certificate from another authority is not trusted");
    let missing = submit(&url, Some("/nonexistent/ca.pem"));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/ca.pem"));

    let _ = server.kill();
    let _ = server.wait();
    let half = run(&["serve", "--listen", "127.0.0.1:0", "--data", d, "--tls-cert", &cert]);
    assert!(!half.status.success(), "a certificate without its key is refused");
    assert!(String::from_utf8_lossy(&half.stderr).contains("--tls-key"));
}
