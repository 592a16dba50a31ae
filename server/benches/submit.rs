//! Durable submits per second through the real gRPC server, on loopback.
//!
//! The server runs in this process (tonic on `127.0.0.1:0`, the embedded
//! SQLite store in a fresh folder under the target directory, so on the
//! same disk as the build, never a tmpfs), and `FORESIGHT_BENCH_CLIENTS`
//! tasks (64) submit distinct jobs, each waiting for its answer before the
//! next, over `FORESIGHT_BENCH_CONNECTIONS` HTTP/2 connections (4), for
//! `FORESIGHT_BENCH_SECS` seconds (10) after `FORESIGHT_BENCH_WARMUP_SECS`
//! (1). A submit is acknowledged when its answer arrives; the server
//! answers only after the job's transaction is committed with
//! `synchronous=FULL`.
//!
//! `cargo bench -p foresight-server --bench submit` prints acknowledged
//! submits per second, p50, p90, p99 and max latency of those submits, the
//! process's CPU time per submit (server and clients together, from
//! `/proc/self/stat`), and, after shutdown, how many jobs the store holds
//! (at least every acknowledged one). `FORESIGHT_BENCH_DIR` puts the store
//! in another folder.
//!
//! It runs on each store of `FORESIGHT_BENCH_STORES` (`sqlite,postgres`):
//! `postgres` is a fresh database on the PostgreSQL that
//! `scripts/pg-up.sh` starts (a throwaway cluster in /tmp, with
//! PostgreSQL's durable defaults, `fsync` and `synchronous_commit` on), or
//! on the server `FORESIGHT_PG_URL` names.

/// The allocator the `foresight` binary runs with, so the bench measures
/// what a user runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use foresight_server::dispatch::Dispatcher;
use foresight_server::pb;
use foresight_server::queue::QueueConfig;
use foresight_server::server::{ServeConfig, add_token, serve};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// User plus system CPU time of this process, seconds.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the command's closing parenthesis; utime and stime are 14th and 15th overall
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn request(key: String) -> pb::SubmitRequest {
    pb::SubmitRequest {
        idempotency_key: key,
        name: "bench".into(),
        pool: "default".into(),
        resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
        time_limit_s: 600.0,
        command: "true".into(),
        ..Default::default()
    }
}

/// A fresh database on the bench's PostgreSQL, or why there is none.
fn postgres_db() -> Result<String, String> {
    let base = match std::env::var("FORESIGHT_PG_URL") {
        Ok(u) => u,
        Err(_) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-up.sh");
            let o = std::process::Command::new("bash").arg(script).output().map_err(|e| e.to_string())?;
            if !o.status.success() {
                return Err(String::from_utf8_lossy(&o.stderr).into_owned());
            }
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        }
    };
    let db = format!("fs_bench_{}", std::process::id());
    let mut admin =
        postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls).map_err(|e| e.to_string())?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).map_err(|e| e.to_string())?;
    admin.batch_execute(&format!("CREATE DATABASE {db}")).map_err(|e| e.to_string())?;
    Ok(format!("{base}/{db}"))
}

fn main() {
    let stores = std::env::var("FORESIGHT_BENCH_STORES").unwrap_or_else(|_| "sqlite,postgres".into());
    for name in stores.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "sqlite" => bench(None),
            "postgres" => match postgres_db() {
                Ok(url) => bench(Some(url)),
                Err(why) => println!("submit on postgres: skipped, no PostgreSQL ({})", why.trim()),
            },
            other => panic!("FORESIGHT_BENCH_STORES: unknown store `{other}` (sqlite, postgres)"),
        }
    }
}

/// One run on SQLite (`None`) or on the PostgreSQL database at the URL.
fn bench(pg: Option<String>) {
    let clients = env_or("FORESIGHT_BENCH_CLIENTS", 64).max(1);
    let connections = env_or("FORESIGHT_BENCH_CONNECTIONS", 4).clamp(1, clients);
    let secs = env_or("FORESIGHT_BENCH_SECS", 10).max(1);
    let warmup = env_or("FORESIGHT_BENCH_WARMUP_SECS", 1);
    let base = std::env::var_os("FORESIGHT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&base).expect("bench folder");
    let dir = tempfile::tempdir_in(&base).expect("temp folder");
    let data = dir.path().to_path_buf();
    let at = match &pg {
        None => foresight_server::store::StoreAt::Folder(data.clone()),
        Some(url) => foresight_server::store::StoreAt::Postgres(url.clone()),
    };
    let token = add_token(&at, "bench", "submitter").expect("token");

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let pg_in = pg.clone();
    let (acked, stored, lat, wall, cpu) = rt.block_on(async move {
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = ServeConfig {
            tls: None,
            listen: "127.0.0.1:0".parse().unwrap(),
            store: at.clone(),
            queue: QueueConfig::default(),
            metrics: None,
        };
        let server = tokio::spawn(serve(
            cfg,
            Dispatcher::new("foresight".parse().unwrap(), None),
            move |a| {
                let _ = bound_tx.send(a.grpc);
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let addr = bound_rx.await.expect("server bound").to_string();
        let mut chans = Vec::new();
        for _ in 0..connections {
            chans.push(foresight_server::client::connect(&addr, &token).await.expect("connect").0);
        }
        let start = Instant::now();
        let from = start + Duration::from_secs(warmup);
        let until = from + Duration::from_secs(secs);
        let failed = Arc::new(AtomicU64::new(0));
        let cpu0 = Arc::new(std::sync::Mutex::new(None::<f64>));
        let mut tasks = Vec::new();
        for c in 0..clients {
            let mut jobs = chans[(c % connections) as usize].clone();
            let failed = failed.clone();
            let cpu0 = cpu0.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                loop {
                    let t0 = Instant::now();
                    if t0 >= until {
                        break;
                    }
                    if t0 >= from {
                        cpu0.lock().unwrap().get_or_insert_with(cpu_s);
                    }
                    i += 1;
                    let r = jobs.submit(request(format!("c{c}-{i}"))).await;
                    let t1 = Instant::now();
                    match r {
                        Ok(a) if a.get_ref().created => {
                            if t0 >= from && t1 <= until {
                                lat.push((t1 - t0).as_micros() as u64);
                            }
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        let mut acked_all = 0u64;
        for t in tasks {
            let l = t.await.expect("client task");
            acked_all += l.len() as u64;
            lat.extend(l);
        }
        let cpu = cpu_s() - cpu0.lock().unwrap().unwrap_or(0.0);
        let wall = secs as f64;
        let failed = failed.load(Ordering::Relaxed);
        assert_eq!(failed, 0, "{failed} submits failed");
        drop(chans);
        let _ = stop_tx.send(());
        server.await.expect("server task").expect("server");
        let stored: u64 = match &pg_in {
            None => {
                let db = rusqlite::Connection::open(data.join("foresight.db")).expect("store");
                db.query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0)).expect("count")
            }
            Some(url) => {
                let url = url.clone();
                // the blocking client, off the async threads
                tokio::task::spawn_blocking(move || {
                    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("store");
                    let n: i64 = c.query_one("SELECT COUNT(*) FROM jobs", &[]).expect("count").get(0);
                    n as u64
                })
                .await
                .expect("count task")
            }
        };
        (acked_all, stored, lat, wall, cpu)
    });
    let mut lat = lat;
    lat.sort_unstable();
    println!(
        "submit on {}: {clients} clients on {connections} connections, {secs} s measured after {warmup} s, store in {}",
        if pg.is_some() { "postgres" } else { "sqlite" },
        match &pg {
            None => base.display().to_string(),
            Some(url) => url.clone(),
        }
    );
    println!("  acknowledged: {acked} ({:.0} submits/s)", acked as f64 / wall);
    println!(
        "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(&lat, 0.50),
        pct(&lat, 0.90),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!("  CPU: {:.1} us per submit (server and clients, {:.1} s in all)", cpu * 1e6 / acked.max(1) as f64, cpu);
    println!("  in the store after shutdown: {stored} jobs (warmup and tail included)");
    assert!(stored >= acked, "{acked} acknowledged but {stored} stored");
}
