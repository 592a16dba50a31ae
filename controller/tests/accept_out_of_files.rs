//! Out of file handles, the metrics endpoint's accept loop neither dies
//! nor spins: `accept` fails with `EMFILE` while a connection waits, the
//! server logs it and waits (axum sleeps a second between tries), and it
//! answers that very connection once handles are free again.
//!
//! This lowers the process's limit on open files, so it is its own test
//! binary (its own process) and must stay the only test in this file.
#![cfg(target_os = "linux")]

use foresight_controller::obs::{Metrics, http};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use rustix::time::{ClockId, clock_gettime};
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// CPU time used by the whole process so far, every thread: read without
/// a file handle, as there is none to spare.
fn cpu() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Where the log events go (axum reports accept errors through tracing):
/// memory, which needs no file handle either.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn accept_errors(&self) -> usize {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines().filter(|l| l.contains("accept error") && l.contains("os error 24")).count()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits up to `limit` for `ok`; says whether it came.
fn wait_for(limit: Duration, ok: impl Fn() -> bool) -> bool {
    let t = Instant::now();
    while !ok() {
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn out_of_file_handles_the_accept_loop_waits_without_spinning_then_answers() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let metrics = Arc::new(Metrics::default());
    metrics.update(|v| v.orchestrator_up = 1);
    let (addr, _server) = rt.block_on(http::serve("127.0.0.1:0".parse().unwrap(), metrics)).unwrap();
    assert_eq!(rt.block_on(http::get(addr, "/healthz")).unwrap().0, 200);

    // a low limit, then every handle under it taken
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let limit = getrlimit(Resource::Nofile);
    setrlimit(Resource::Nofile, Rlimit { current: Some(open + 32), maximum: limit.maximum }).unwrap();
    let mut hogs = Vec::new();
    let full = loop {
        match File::open("/dev/null") {
            Ok(f) => hogs.push(f),
            Err(e) => break e,
        }
    };
    assert_eq!(full.raw_os_error(), Some(rustix::io::Errno::MFILE.raw_os_error()), "{full}");
    // one handle back, for the client's end: the server's accept finds none
    hogs.pop();
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    assert!(wait_for(Duration::from_secs(10), || logs.accept_errors() >= 1), "accept never failed");

    let (errors, used, t) = (logs.accept_errors(), cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let (errors, used, span) = (logs.accept_errors() - errors, cpu() - used, t.elapsed());
    // a loop that spins tries thousands of times a second and burns a core;
    // this one tries about once a second and sleeps in between (bounds on
    // the span slept, which a loaded machine may stretch past 2 s)
    assert!(errors as f64 <= span.as_secs_f64() + 2.0, "{errors} failed accepts in {span:?}");
    assert!(used < span / 4, "{used:?} of CPU in {span:?} out of handles");

    drop(hogs);
    setrlimit(Resource::Nofile, limit).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "the waiting connection is served: {answer}");
    assert_eq!(rt.block_on(http::get(addr, "/healthz")).unwrap().0, 200, "and new ones too");
}
