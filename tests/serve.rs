//! End to end, on loopback: a real `foresight serve` process on a free
//! port, real `foresight worker` processes running jobs' commands with a
//! shell, and `foresight submit` and `foresight jobs` as a user runs them.
//! Workers are killed with SIGKILL (their whole process group) to make
//! leases expire for real.
//!
//! Each test runs twice, on the embedded store (`sqlite::`) and on a real
//! PostgreSQL (`postgres::`, a fresh database on the server that
//! `scripts/pg-up.sh` starts; skipped, said on stderr, where PostgreSQL is
//! missing, unless `FORESIGHT_REQUIRE_POSTGRES=1`).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[macro_use]
mod serve_common;
use serve_common::{Backend, scrape};

const BIN: &str = env!("CARGO_BIN_EXE_foresight");

on_both_stores!(
    submit_dispatch_complete_and_idempotent_submit,
    an_expired_lease_is_retried_then_dead_lettered_then_requeued,
    another_tenants_token_is_refused,
    watch_resumes_from_the_last_event_and_health_answers,
    concurrent_submits_are_committed_together_and_a_key_is_one_job,
    metrics_count_depth_per_tenant_and_pool_leases_and_dead_letters,
    acknowledged_submits_survive_a_kill_9,
    the_policy_backfills_a_short_job_and_holds_a_long_one_behind_the_head,
    a_tenants_rate_limit_refuses_submits_past_its_burst,
    a_gpu_budget_refuses_or_holds_jobs_as_configured,
    kill_9_under_a_stream_of_submits_loses_no_acknowledged_job,
    edf_serves_the_least_slack_first_and_reports_a_job_that_cannot_meet_its_deadline,
    fair_share_serves_the_tenant_with_less_history_first,
    governance_keeps_jobs_to_their_region_selectors_and_tolerations_and_says_why_one_waits,
    cost_aware_placement_takes_the_cheapest_pool_that_meets_the_deadline_and_says_why,
);

/// A running server; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    data: tempfile::TempDir,
    backend: Backend,
    /// The line it printed when it was listening.
    banner: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a server with short leases (1.5 s) and backoffs (0.2 s, at most 0.4 s).
    fn start(b: &Backend) -> Server {
        Server::start_in(b, tempfile::tempdir().unwrap())
    }

    /// Kills the server with SIGKILL and starts it again on the same data.
    fn crash_and_restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        Server::start_in(&self.backend, data)
    }

    fn start_in(b: &Backend, data: tempfile::TempDir) -> Server {
        Server::start_with(b, data, &[]).0
    }

    /// Starts a server with `extra` arguments; with `--metrics`, also
    /// returns the metrics URL it prints.
    fn start_with(b: &Backend, data: tempfile::TempDir, extra: &[&str]) -> (Server, Option<String>) {
        let d = data.path().to_str().unwrap().to_string();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data", &d, "--lease-ttl-ms", "1500"])
            .args(["--backoff-ms", "200", "--backoff-cap-ms", "400", "--seed", "1"])
            .args(b.args())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let shown = serve_common::banner(&mut child, extra.contains(&"--metrics"));
        let addr = shown.addr.expect(&shown.line);
        (Server { child, addr, data, backend: b.clone(), banner: shown.line }, shown.metrics)
    }

    fn token(&self, tenant: &str, role: &str) -> String {
        serve_common::token(self.data.path(), &self.backend, tenant, role)
    }

    /// `foresight serve tenant ARGS` on this server's store; its stdout.
    fn tenant(&self, args: &[&str]) -> String {
        let o = Command::new(BIN)
            .args(["serve", "tenant"])
            .args(args)
            .args(["--data", self.data.path().to_str().unwrap()])
            .args(self.backend.args())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs a client command (`submit`, `jobs`) with `tok`.
    fn cli(&self, tok: &str, args: &[&str]) -> Output {
        serve_common::cli(&self.addr, tok, args)
    }

    /// Starts a worker in its own process group (1 CPU unless `extra` says).
    fn worker(&self, tok: &str, id: &str, extra: &[&str]) -> Child {
        Command::new(BIN)
            .args(["worker", "--server", &self.addr, "--id", id, "--poll-ms", "100", "--heartbeat-ms", "300"])
            .args(if extra.contains(&"--cpus") { &[][..] } else { &["--cpus", "1"][..] })
            .args(extra)
            .env("FORESIGHT_TOKEN", tok)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    /// The job as `jobs get` prints it.
    fn job(&self, tok: &str, id: u64) -> serde_json::Value {
        let o = self.cli(tok, &["jobs", "get", &id.to_string()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Waits (at most 20 s) until job `id` is in `state`.
    fn wait_state(&self, tok: &str, id: u64, state: &str) -> serde_json::Value {
        let t0 = Instant::now();
        loop {
            let j = self.job(tok, id);
            if j["state"] == state {
                return j;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "job {id} never became {state}: {j}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Kills a worker and everything it started.
fn kill_group(child: &mut Child) {
    let pgid = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-9", "--", &pgid]).status();
    let _ = child.wait();
}

fn submitted_id(o: &Output) -> u64 {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["id"].as_u64().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn submit_dispatch_complete_and_idempotent_submit(b: Backend) {
    let s = Server::start(&b);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("ops", "worker"));
    let out: PathBuf = s.data.path().join("ran");
    let cmd = format!("echo $FORESIGHT_JOB_ID-$FORESIGHT_ATTEMPT > {}", out.display());
    let first = submitted_id(&s.cli(&sub, &["submit", "--json", "--key", "k1", "--time-limit", "60", "--", &cmd]));
    let again = submitted_id(&s.cli(&sub, &["submit", "--json", "--key", "k1", "--", "echo", "other"]));
    assert_eq!(first, again, "the same key is the same job");
    let j = s.job(&sub, first);
    assert_eq!((j["state"].as_str(), j["predicted_runtime_s"].as_f64()), (Some("queued"), Some(60.0)));

    // bad input is refused naming the field, with exit code 2
    let bad = s.cli(&sub, &["submit", "--cpus", "0", "--", "true"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(err(&bad).contains("INVALID_ARGUMENT: resources.cpus"), "{}", err(&bad));

    let mut w = s.worker(&wk, "w1", &["--max-jobs", "1"]);
    let done = s.wait_state(&sub, first, "succeeded");
    assert_eq!(
        (done["exit_code"].as_i64(), done["attempts"].as_u64(), done["worker_id"].as_str()),
        (Some(0), Some(1), Some("w1"))
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), format!("{first}-1"));
    assert!(w.wait().unwrap().success(), "the worker exits after its one job");

    // a failing command is retried, then dead-lettered, with its exit code
    let f = submitted_id(&s.cli(&sub, &["submit", "--json", "--attempts", "2", "--", "exit 7"]));
    let mut w = s.worker(&wk, "w2", &["--max-jobs", "2"]);
    let dead = s.wait_state(&sub, f, "dead");
    assert_eq!((dead["exit_code"].as_i64(), dead["attempts"].as_u64()), (Some(7), Some(2)));
    assert!(w.wait().unwrap().success());
}

fn an_expired_lease_is_retried_then_dead_lettered_then_requeued(b: Backend) {
    let s = Server::start(&b);
    let (sub, wk, op) = (s.token("acme", "submitter"), s.token("ops", "worker"), s.token("ops", "operator"));
    let marker = s.data.path().join("go");
    let cmd = format!("while ! test -f {}; do sleep 0.1; done", marker.display());
    let id = submitted_id(&s.cli(&sub, &["submit", "--json", "--attempts", "2", "--", &cmd]));

    // two workers die in turn holding the job: each lease expires
    for (n, name) in ["a", "b"].iter().enumerate() {
        let mut w = s.worker(&wk, name, &[]);
        let j = s.wait_state(&sub, id, "leased");
        assert_eq!((j["worker_id"].as_str(), j["attempts"].as_u64()), (Some(*name), Some(n as u64 + 1)));
        kill_group(&mut w);
        if n == 0 {
            let back = s.wait_state(&sub, id, "queued");
            assert!(back["error"].as_str().unwrap().contains("lease expired"), "{back}");
            assert!(back["not_before_ms"].as_i64().unwrap() > 0, "a backoff before the retry");
        }
    }
    let dead = s.wait_state(&sub, id, "dead");
    assert!(dead["error"].as_str().unwrap().contains("lease expired (worker `b`, attempt 2)"), "{dead}");

    // dead letters can be listed and requeued by an operator, not the tenant
    let list = s.cli(&op, &["jobs", "--json", "--state", "dead"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains(&format!("\"id\":{id}")));
    let denied = s.cli(&sub, &["jobs", "requeue", &id.to_string()]);
    assert!(err(&denied).contains("PERMISSION_DENIED"), "{}", err(&denied));
    assert!(s.cli(&op, &["jobs", "requeue", &id.to_string()]).status.success());
    std::fs::write(&marker, "").unwrap();
    let mut w = s.worker(&wk, "c", &["--max-jobs", "1"]);
    let done = s.wait_state(&sub, id, "succeeded");
    assert_eq!(done["attempts"].as_u64(), Some(1), "requeued with fresh attempts");
    assert!(w.wait().unwrap().success());
    assert!(s.cli(&op, &["jobs", "purge", &id.to_string()]).status.success());
    assert!(err(&s.cli(&sub, &["jobs", "get", &id.to_string()])).contains("NOT_FOUND"));
}

fn another_tenants_token_is_refused(b: Backend) {
    let s = Server::start(&b);
    let (a, b, wk) = (s.token("acme", "submitter"), s.token("globex", "submitter"), s.token("ops", "worker"));
    let id = submitted_id(&s.cli(&a, &["submit", "--json", "--", "true"]));
    for verb in ["get", "cancel"] {
        let o = s.cli(&b, &["jobs", verb, &id.to_string()]);
        assert_eq!(o.status.code(), Some(2));
        assert!(err(&o).contains("NOT_FOUND"), "{verb}: {}", err(&o));
    }
    let theirs = s.cli(&b, &["jobs", "--json"]);
    assert!(theirs.status.success() && theirs.stdout.is_empty(), "globex sees none of acme's jobs");
    let spoof = s.cli(&b, &["submit", "--tenant", "acme", "--", "true"]);
    assert!(err(&spoof).contains("PERMISSION_DENIED"), "{}", err(&spoof));
    let worker_submits = s.cli(&wk, &["submit", "--", "true"]);
    assert!(err(&worker_submits).contains("PERMISSION_DENIED"), "{}", err(&worker_submits));
    let unknown = s.cli("not-a-token", &["jobs"]);
    assert!(err(&unknown).contains("UNAUTHENTICATED"), "{}", err(&unknown));
    // the owner still can
    assert_eq!(s.job(&a, id)["state"], "queued");
    let o = s.cli(&a, &["jobs", "cancel", &id.to_string()]);
    assert!(o.status.success(), "{}", err(&o));
}

fn watch_resumes_from_the_last_event_and_health_answers(b: Backend) {
    use foresight_server::pb;
    let s = Server::start(&b);
    let (sub, other) = (s.token("acme", "submitter"), s.token("globex", "submitter"));
    let id = submitted_id(&s.cli(&sub, &["submit", "--json", "--", "true"]));
    submitted_id(&s.cli(&other, &["submit", "--json", "--", "true"]));
    assert!(s.cli(&sub, &["jobs", "cancel", &id.to_string()]).status.success());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (mut jobs, _) = foresight_server::client::connect(&s.addr, &sub).await.unwrap();
        let next = |after| {
            let mut jobs = jobs.clone();
            async move {
                let mut st =
                    jobs.watch(pb::WatchRequest { after_event_id: after, job_id: 0 }).await.unwrap().into_inner();
                let mut got = Vec::new();
                while got.len() < 2 {
                    match tokio::time::timeout(Duration::from_millis(1500), st.message()).await {
                        Ok(Ok(Some(e))) => got.push(e),
                        _ => break,
                    }
                }
                got
            }
        };
        let all = next(0).await;
        assert_eq!(all.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["submitted", "cancelled"]);
        assert!(all.iter().all(|e| e.tenant == "acme" && e.job_id == id), "only the tenant's own events");
        let rest = next(all[0].id).await;
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].id, all[1].id, "resumed after the last seen id");
        // a bad field in a request is named
        let e = jobs.list(pb::ListJobsRequest { page_token: "x".into(), ..Default::default() }).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().starts_with("page_token"), "{}", e.message());

        let ch = tonic::transport::Channel::from_shared(format!("http://{}", s.addr)).unwrap().connect().await.unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let r =
            health.check(tonic_health::pb::HealthCheckRequest { service: "foresight.v1.Jobs".into() }).await.unwrap();
        assert_eq!(r.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

        // server reflection lists the services, as `grpcurl ADDR list` asks
        use tonic_reflection::pb::v1::{
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut refl = tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(ch);
        let ask = tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = refl.server_reflection_info(tokio_stream::iter([ask])).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("no service list")
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for want in ["foresight.v1.Jobs", "foresight.v1.Workers", "grpc.health.v1.Health"] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
    });
}

/// Submits that arrive together are committed together (group commit):
/// each still gets its own answer, the same key sent many times at once is
/// one job, and every acknowledged one is there after a `kill -9`.
fn concurrent_submits_are_committed_together_and_a_key_is_one_job(b: Backend) {
    use foresight_server::pb;
    let s = Server::start(&b);
    let sub = s.token("acme", "submitter");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answers: Vec<(String, u64, bool)> = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(foresight_server::client::connect(&s.addr, &sub).await.unwrap().0);
        }
        let mut tasks = Vec::new();
        for i in 0..200 {
            let mut jobs = clients[i % 4].clone();
            let key = if i % 2 == 0 { format!("k{i}") } else { "same".to_string() };
            tasks.push(tokio::spawn(async move {
                let r = pb::SubmitRequest {
                    idempotency_key: key.clone(),
                    resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
                    command: "true".into(),
                    ..Default::default()
                };
                let a = jobs.submit(r).await.unwrap().into_inner();
                (key, a.job.unwrap().id, a.created)
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let same: Vec<&(String, u64, bool)> = answers.iter().filter(|a| a.0 == "same").collect();
    assert_eq!(same.iter().filter(|a| a.2).count(), 1, "one of the 100 submits of one key creates the job");
    assert!(same.iter().all(|a| a.1 == same[0].1), "and all of them get it");
    let mut ids: Vec<u64> = answers.iter().filter(|a| a.0 != "same").map(|a| a.1).collect();
    assert!(answers.iter().filter(|a| a.0 != "same").all(|a| a.2));
    ids.push(same[0].1);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 101, "100 distinct keys and one shared key are 101 jobs");
    let s = s.crash_and_restart();
    let kept = rt.block_on(async {
        let (mut jobs, _) = foresight_server::client::connect(&s.addr, &sub).await.unwrap();
        jobs.list(pb::ListJobsRequest { page_size: 1000, ..Default::default() }).await.unwrap().into_inner().jobs
    });
    let mut kept: Vec<u64> = kept.iter().map(|j| j.id).collect();
    kept.sort_unstable();
    assert_eq!(kept, ids, "every acknowledged job is kept, and nothing more");
}

fn metrics_count_depth_per_tenant_and_pool_leases_and_dead_letters(b: Backend) {
    use foresight_server::pb;
    let (s, url) = Server::start_with(&b, tempfile::tempdir().unwrap(), &["--metrics", "127.0.0.1:0"]);
    let url = url.unwrap();
    let (acme, globex, wk) = (s.token("acme", "submitter"), s.token("globex", "submitter"), s.token("ops", "worker"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let submit = |tok: String, key: &'static str, pool: &'static str| {
            let addr = s.addr.clone();
            async move {
                let (mut jobs, _) = foresight_server::client::connect(&addr, &tok).await.unwrap();
                let r = pb::SubmitRequest {
                    idempotency_key: key.into(),
                    pool: pool.into(),
                    resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
                    command: "true".into(),
                    ..Default::default()
                };
                jobs.submit(r).await.unwrap();
            }
        };
        submit(acme.clone(), "a1", "default").await;
        submit(acme.clone(), "a2", "default").await;
        submit(globex.clone(), "g1", "gpu").await;
        let (_, mut workers) = foresight_server::client::connect(&s.addr, &wk).await.unwrap();
        let offer = pb::LeaseRequest { worker_id: "w".into(), pool: "default".into(), cpus: 1, ..Default::default() };
        let leases = workers.lease(offer).await.unwrap().into_inner().leases;
        assert_eq!(leases.len(), 1);
        let text = scrape(&url);
        for want in [
            "foresight_serve_queue_depth{tenant=\"acme\",pool=\"default\"} 1",
            "foresight_serve_queue_depth{tenant=\"globex\",pool=\"gpu\"} 1",
            "foresight_serve_leases_active{tenant=\"acme\",pool=\"default\"} 1",
            "foresight_serve_submits_total 3",
            "foresight_serve_leases_granted_total 1",
            "foresight_serve_submit_latency_seconds_count 3",
            "foresight_serve_dispatch_latency_seconds_count 1",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        let l = &leases[0];
        let fail = pb::FailRequest {
            worker_id: "w".into(),
            job_id: l.job.as_ref().unwrap().id,
            attempt: l.attempt,
            exit_code: 1,
            error: "no".into(),
            permanent: true,
        };
        workers.fail(fail).await.unwrap();
    });
    let text = scrape(&url);
    assert!(text.contains("foresight_serve_dead_letters_total 1"), "{text}");
    assert!(!text.contains("foresight_serve_leases_active{"), "nothing leased now:\n{text}");
}

fn acknowledged_submits_survive_a_kill_9(b: Backend) {
    let s = Server::start(&b);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("ops", "worker"));
    let ids: Vec<u64> = (0..5)
        .map(|i| submitted_id(&s.cli(&sub, &["submit", "--json", "--key", &format!("k{i}"), "--", "true"])))
        .collect();
    let s = s.crash_and_restart();
    for &id in &ids {
        assert_eq!(s.job(&sub, id)["state"], "queued", "job {id} was acknowledged, so it is kept");
    }
    assert_eq!(submitted_id(&s.cli(&sub, &["submit", "--json", "--key", "k0", "--", "true"])), ids[0]);
    let mut w = s.worker(&wk, "w", &["--max-jobs", "5"]);
    for &id in &ids {
        s.wait_state(&sub, id, "succeeded");
    }
    assert!(w.wait().unwrap().success());
}

fn the_policy_backfills_a_short_job_and_holds_a_long_one_behind_the_head(b: Backend) {
    let s = Server::start(&b);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("ops", "worker"));
    let marker = s.data.path().join("release");
    let hold = format!("while ! test -f {}; do sleep 0.05; done", marker.display());
    let submit = |cpus: &str, limit: &str, cmd: &str| {
        submitted_id(&s.cli(&sub, &["submit", "--json", "--cpus", cpus, "--time-limit", limit, "--", cmd]))
    };
    // a 2-CPU worker: `a` holds one CPU (predicted 100 s: no history yet)
    let a = submit("1", "100", &hold);
    let mut w = s.worker(&wk, "w", &["--cpus", "2"]);
    s.wait_state(&sub, a, "leased");
    // the head needs both CPUs; a 1000 s job would delay it, a 5 s one not
    let head = submit("2", "10", "true");
    let long = submit("1", "1000", "true");
    let short = submit("1", "5", "true");
    s.wait_state(&sub, short, "succeeded");
    assert_eq!(s.job(&sub, long)["state"], "queued", "the long job is not backfilled past the head");
    assert_eq!(s.job(&sub, head)["state"], "queued");
    std::fs::write(&marker, "").unwrap();
    let started = |id| s.wait_state(&sub, id, "succeeded")["started_at_ms"].as_i64().unwrap();
    let (h, l) = (started(head), started(long));
    assert!(started(short) < h && h <= l, "backfilled short job, then the head, then the long one");
    kill_group(&mut w);
}

#[test]
fn postgres_replicas_have_one_active_dispatcher_and_a_standby_takes_over() {
    use foresight_server::pb;
    let Some(b) = Backend::postgres("replicas") else { return };
    let active = Server::start(&b);
    let standby = Server::start(&b);
    assert!(active.banner.contains("active dispatcher"), "{}", active.banner);
    assert!(standby.banner.contains("standby replica"), "{}", standby.banner);
    let (sub, wk) = (active.token("acme", "submitter"), standby.token("ops", "worker"));

    // a job submitted to the standby is the active one's to dispatch
    let id = submitted_id(&standby.cli(&sub, &["submit", "--json", "--key", "one", "--", "true"]));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let refused = rt.block_on(async {
        let (_, mut workers) = foresight_server::client::connect(&standby.addr, &wk).await.unwrap();
        let offer = pb::LeaseRequest { worker_id: "x".into(), pool: "default".into(), cpus: 1, ..Default::default() };
        workers.lease(offer).await.unwrap_err()
    });
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("standby"), "{}", refused.message());
    let mut w = active.worker(&wk, "w1", &["--max-jobs", "1"]);
    assert_eq!(standby.wait_state(&sub, id, "succeeded")["worker_id"], "w1", "either replica reads the job");
    assert!(w.wait().unwrap().success());
    // the same key through the other replica is the same job
    assert_eq!(submitted_id(&active.cli(&sub, &["submit", "--json", "--key", "one", "--", "true"])), id);

    // the active replica dies: its session ends, and the standby takes over dispatch
    drop(active);
    let next = submitted_id(&standby.cli(&sub, &["submit", "--json", "--", "true"]));
    let mut w = standby.worker(&wk, "w2", &["--max-jobs", "1"]);
    assert_eq!(standby.wait_state(&sub, next, "succeeded")["worker_id"], "w2");
    assert!(w.wait().unwrap().success());
}

fn a_tenants_rate_limit_refuses_submits_past_its_burst(b: Backend) {
    let s = Server::start(&b);
    let (acme, globex) = (s.token("acme", "submitter"), s.token("globex", "submitter"));
    // set while the server runs: it reads the limits at each submit
    let set = s.tenant(&["set", "--tenant", "acme", "--rate", "0.05", "--burst", "2"]);
    assert!(set.contains("\"rate_per_s\":0.05"), "{set}");
    let first = submitted_id(&s.cli(&acme, &["submit", "--json", "--key", "r0", "--", "true"]));
    submitted_id(&s.cli(&acme, &["submit", "--json", "--key", "r1", "--", "true"]));
    let o = s.cli(&acme, &["submit", "--json", "--key", "r2", "--", "true"]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("RESOURCE_EXHAUSTED: tenant `acme`: rate limit of 0.05 submits/s (burst 2) exceeded"),
        "{}",
        err(&o)
    );
    // another tenant has no limit
    for _ in 0..3 {
        submitted_id(&s.cli(&globex, &["submit", "--json", "--", "true"]));
    }
    let listed = s.cli(&acme, &["jobs", "--json"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2, "the refused submit made no job");
    // lifted, it submits again
    s.tenant(&["set", "--tenant", "acme"]);
    assert!(submitted_id(&s.cli(&acme, &["submit", "--json", "--key", "r2", "--", "true"])) > first);
    let listed: serde_json::Value = serde_json::from_str(s.tenant(&["list"]).trim()).unwrap();
    assert_eq!((listed["tenant"].as_str(), listed["rate_per_s"].as_f64()), (Some("acme"), Some(0.0)));
}

fn a_gpu_budget_refuses_or_holds_jobs_as_configured(b: Backend) {
    let s = Server::start(&b);
    let (acme, globex, wk) = (s.token("acme", "submitter"), s.token("globex", "submitter"), s.token("ops", "worker"));
    // 0.02 GPU-hours a day is 72 GPU-seconds; acme is refused over it, globex waits
    s.tenant(&["set", "--tenant", "acme", "--gpu-hours-per-day", "0.02", "--over-budget", "refuse"]);
    s.tenant(&["set", "--tenant", "globex", "--gpu-hours-per-day", "0.02", "--over-budget", "wait"]);
    let marker = s.data.path().join("release");
    let hold = format!("while ! test -f {}; do sleep 0.05; done", marker.display());
    let gpu_job = |tok: &str, limit: &str, cmd: &str| {
        s.cli(tok, &["submit", "--json", "--gpus", "1", "--time-limit", limit, "--", cmd])
    };
    // 1 GPU for a predicted 100 s is over acme's budget: refused at once
    let o = gpu_job(&acme, "100", "true");
    assert!(!o.status.success());
    assert!(err(&o).contains("RESOURCE_EXHAUSTED: tenant `acme`: GPU budget of 0.02 GPU-hours/day"), "{}", err(&o));
    // jobs without GPUs are not budgeted
    submitted_id(&s.cli(&acme, &["submit", "--json", "--time-limit", "1000", "--", "true"]));
    let a1 = submitted_id(&gpu_job(&acme, "50", &hold));
    let g1 = submitted_id(&gpu_job(&globex, "50", &hold));
    let g2 = submitted_id(&gpu_job(&globex, "50", "true"));
    let mut w = s.worker(&wk, "w", &["--cpus", "4", "--gpus", "4"]);
    s.wait_state(&acme, a1, "leased");
    s.wait_state(&globex, g1, "leased");
    // a1 holds 50 of acme's 72 GPU-seconds: another 50 is refused
    let o = gpu_job(&acme, "50", "true");
    assert!(err(&o).contains("RESOURCE_EXHAUSTED: tenant `acme`: GPU budget"), "{}", err(&o));
    // g2 would take globex to 100: it waits though GPUs are free (the worker asks every 100 ms)
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(s.job(&globex, g2)["state"], "queued", "over its budget, globex's job waits");
    // the admin raises the budget: it runs
    s.tenant(&["set", "--tenant", "globex", "--gpu-hours-per-day", "1"]);
    s.wait_state(&globex, g2, "succeeded");
    std::fs::write(&marker, "").unwrap();
    s.wait_state(&acme, a1, "succeeded");
    s.wait_state(&globex, g1, "succeeded");
    kill_group(&mut w);
}

/// Clients submit distinct keys one after another until told to stop or
/// refused; the keys and ids acknowledged.
async fn submit_stream(
    addr: String,
    tok: String,
    prefix: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acks: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Vec<(String, u64)> {
    use foresight_server::pb;
    let mut out = Vec::new();
    let Ok((mut jobs, _)) = foresight_server::client::connect(&addr, &tok).await else { return out };
    for i in 0.. {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        let key = format!("{prefix}-{i}");
        let r = pb::SubmitRequest {
            idempotency_key: key.clone(),
            resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
            command: "true".into(),
            ..Default::default()
        };
        match tokio::time::timeout(Duration::from_secs(5), jobs.submit(r)).await {
            Ok(Ok(a)) => {
                out.push((key, a.into_inner().job.unwrap().id));
                acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            _ => break,
        }
    }
    out
}

/// Every job in the store, by id: its key.
fn all_jobs(s: &Server, tok: &str) -> std::collections::BTreeMap<u64, String> {
    use foresight_server::pb;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (mut jobs, _) = foresight_server::client::connect(&s.addr, tok).await.unwrap();
        let mut all = std::collections::BTreeMap::new();
        let mut page = String::new();
        loop {
            let r = pb::ListJobsRequest { page_size: 1000, page_token: page, ..Default::default() };
            let r = jobs.list(r).await.unwrap().into_inner();
            for j in r.jobs {
                all.insert(j.id, j.idempotency_key);
            }
            if r.next_page_token.is_empty() {
                return all;
            }
            page = r.next_page_token;
        }
    })
}

/// `kill -9` of the server while 16 clients submit, `FORESIGHT_KILL9_ROUNDS`
/// times (5): after each restart every acknowledged job is there, under
/// its key, and a key is never two jobs.
fn kill_9_under_a_stream_of_submits_loses_no_acknowledged_job(b: Backend) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let rounds: u64 = std::env::var("FORESIGHT_KILL9_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let mut s = Server::start(&b);
    let sub = s.token("acme", "submitter");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut acked: Vec<(String, u64)> = Vec::new();
    let mut unanswered = 0usize;
    for round in 0..rounds {
        let (stop, acks) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let tasks: Vec<_> = (0..16)
            .map(|c| {
                let prefix = format!("r{round}-c{c}");
                rt.spawn(submit_stream(s.addr.clone(), sub.clone(), prefix, stop.clone(), acks.clone()))
            })
            .collect();
        // once the stream flows, kill at a different moment each round
        let t0 = std::time::Instant::now();
        while acks.load(Ordering::SeqCst) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(30), "round {round}: no submit acknowledged in 30 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50 + (round * 97) % 300));
        let _ = s.child.kill();
        let _ = s.child.wait();
        stop.store(true, Ordering::SeqCst);
        let before = acked.len();
        for t in tasks {
            acked.extend(rt.block_on(t).unwrap());
        }
        assert!(acked.len() > before, "round {round}: no submit was acknowledged before the kill");
        s = s.crash_and_restart();
        let kept = all_jobs(&s, &sub);
        for (key, id) in &acked {
            assert_eq!(kept.get(id), Some(key), "round {round}: acknowledged job {id} ({key}) lost");
        }
        let mut keys: Vec<&String> = kept.values().collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is one job");
        unanswered += kept.len() - acked.len() - unanswered;
    }
    // a key acknowledged before a crash is the same job after it
    let (key, id) = acked[0].clone();
    let again = submitted_id(&s.cli(&sub, &["submit", "--json", "--key", &key, "--", "true"]));
    assert_eq!(again, id);
    eprintln!(
        "kill -9 x {rounds}: {} submits acknowledged, all kept; {unanswered} more kept that were cut off unanswered",
        acked.len()
    );
}

fn edf_serves_the_least_slack_first_and_reports_a_job_that_cannot_meet_its_deadline(b: Backend) {
    let (s, _) = Server::start_with(&b, tempfile::tempdir().unwrap(), &["--policy", "edf"]);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("ops", "worker"));
    let submit = |extra: &[&str]| {
        let mut args = vec!["submit", "--json", "--time-limit", "100"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "true"]);
        let o = s.cli(&sub, &args);
        assert!(o.status.success(), "{}", err(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    // predicted 100 s each (no history: the request); slack = deadline - now - 100
    let none = submit(&[]);
    let far = submit(&["--deadline", "3600"]);
    let near = submit(&["--deadline", "600"]);
    let late = submit(&["--deadline", "30"]);
    assert_eq!(late["deadline_at_risk"], true, "reported at submit: {late}");
    assert!(late["slack_s"].as_f64().unwrap() < -69.0);
    assert_eq!(near["deadline_at_risk"], false);
    assert!(near["slack_s"].as_f64().unwrap() > 490.0);
    assert_eq!(none["slack_s"], serde_json::Value::Null);
    // one 1-CPU worker runs them one at a time, least slack first
    let mut w = s.worker(&wk, "w", &[]);
    let id = |j: &serde_json::Value| j["id"].as_u64().unwrap();
    let started: Vec<i64> = [&late, &near, &far, &none]
        .iter()
        .map(|j| s.wait_state(&sub, id(j), "succeeded")["started_at_ms"].as_i64().unwrap())
        .collect();
    assert!(started.windows(2).all(|p| p[0] < p[1]), "late, near, far, then no deadline: {started:?}");
    // the late job's lease says why in its event
    let o = s.cli(&sub, &["jobs", "get", &id(&late).to_string()]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["deadline_ms"], late["deadline_ms"]);
    kill_group(&mut w);
}

fn fair_share_serves_the_tenant_with_less_history_first(b: Backend) {
    let (s, _) = Server::start_with(&b, tempfile::tempdir().unwrap(), &["--policy", "fairshare"]);
    let (heavy, light, wk) = (s.token("heavy", "submitter"), s.token("light", "submitter"), s.token("ops", "worker"));
    let submit = |tok: &str, cmd: &str| {
        submitted_id(&s.cli(tok, &["submit", "--json", "--time-limit", "60", "--", cmd]))
    };
    // history: heavy runs for a second, light for an instant
    let h1 = submit(&heavy, "sleep 1");
    let l1 = submit(&light, "true");
    let mut w = s.worker(&wk, "w", &["--max-jobs", "2"]);
    s.wait_state(&heavy, h1, "succeeded");
    s.wait_state(&light, l1, "succeeded");
    assert!(w.wait().unwrap().success());
    // heavy's job arrives first, but light has used less: light's runs first
    let h2 = submit(&heavy, "true");
    let l2 = submit(&light, "true");
    let mut w = s.worker(&wk, "w", &["--max-jobs", "2"]);
    let h = s.wait_state(&heavy, h2, "succeeded")["started_at_ms"].as_i64().unwrap();
    let l = s.wait_state(&light, l2, "succeeded")["started_at_ms"].as_i64().unwrap();
    assert!(l < h, "light ({l}) before heavy ({h})");
    assert!(w.wait().unwrap().success());
}

fn governance_keeps_jobs_to_their_region_selectors_and_tolerations_and_says_why_one_waits(b: Backend) {
    let s = Server::start(&b);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("ops", "worker"));
    let submit = |extra: &[&str]| {
        let mut args = vec!["submit", "--json", "--time-limit", "60"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "true"]);
        submitted_id(&s.cli(&sub, &args))
    };
    let eu = ["--label", "region=eu", "--label", "disk=ssd", "--cpus", "2"];
    let mut w_eu = s.worker(&wk, "w-eu", &eu);
    let mut w_us = s.worker(&wk, "w-us", &["--label", "region=us", "--taint", "reserved=training", "--cpus", "2"]);
    let in_eu = submit(&["--label", "region=eu"]);
    let on_ssd = submit(&["--select", "disk=ssd"]);
    let tolerant = submit(&["--label", "region=us", "--tolerate", "reserved="]);
    let plain = submit(&[]);
    let nowhere = submit(&["--label", "region=ap"]);
    let worker = |id| s.wait_state(&sub, id, "succeeded")["worker_id"].as_str().unwrap().to_string();
    assert_eq!(worker(in_eu), "w-eu", "data residency");
    assert_eq!(worker(on_ssd), "w-eu", "node selector");
    assert_eq!(worker(tolerant), "w-us", "toleration of the taint");
    assert_eq!(worker(plain), "w-eu", "the taint keeps a job without a toleration away");
    let j = s.job(&sub, nowhere);
    assert_eq!(j["state"], "queued");
    let why = j["wait_reason"].as_str().unwrap();
    assert!(why.contains("data residency: job's region `ap`"), "{why}");
    // the decision log (the `leased` event) says why the worker could take it
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let details = rt.block_on(async {
        let (mut jobs, _) = foresight_server::client::connect(&s.addr, &sub).await.unwrap();
        let mut st = jobs.watch(foresight_server::pb::WatchRequest { after_event_id: 0, job_id: tolerant }).await.unwrap().into_inner();
        let mut got = Vec::new();
        while let Ok(Ok(Some(e))) = tokio::time::timeout(Duration::from_millis(1500), st.message()).await {
            got.push((e.kind, e.detail));
        }
        got
    });
    let leased = details.iter().find(|(k, _)| k == "leased").map(|(_, d)| d.as_str()).unwrap_or_default();
    assert!(leased.contains("governance: region us, tolerates reserved=training"), "{details:?}");
    kill_group(&mut w_eu);
    kill_group(&mut w_us);
}

fn cost_aware_placement_takes_the_cheapest_pool_that_meets_the_deadline_and_says_why(b: Backend) {
    let prices = ["--pool-price", "dear=2.5,cheap=1.0"];
    let (s, _) = Server::start_with(&b, tempfile::tempdir().unwrap(), &prices);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("ops", "worker"));
    let marker = s.data.path().join("release");
    let hold = format!("while ! test -f {}; do sleep 0.05; done", marker.display());
    // one worker each; `cheap` is busy for a predicted 1000 s
    let mut w_dear = s.worker(&wk, "w-dear", &["--pool", "dear"]);
    let mut w_cheap = s.worker(&wk, "w-cheap", &["--pool", "cheap"]);
    let busy = submitted_id(&s.cli(&sub, &["submit", "--json", "--pool", "cheap", "--time-limit", "1000", "--", &hold]));
    s.wait_state(&sub, busy, "leased");
    let place = |deadline: &str| {
        let mut args = vec!["submit", "--json", "--pools", "dear,cheap", "--time-limit", "60"];
        if !deadline.is_empty() {
            args.extend_from_slice(&["--deadline", deadline]);
        }
        args.extend_from_slice(&["--", "true"]);
        let o = s.cli(&sub, &args);
        assert!(o.status.success(), "{}", err(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    // due in 10 min: cheap would start in ~1000 s, so the dear pool
    let urgent = place("600");
    assert_eq!(urgent["pool"], "dear", "{urgent}");
    let why = urgent["placement_reason"].as_str().unwrap();
    assert!(why.contains("the cheapest that meets the deadline"), "{why}");
    // due in an hour, or not at all: the cheap pool can wait
    assert_eq!(place("3600")["pool"], "cheap");
    let lax = place("");
    assert_eq!(lax["pool"], "cheap");
    assert!(lax["placement_reason"].as_str().unwrap().contains("no deadline"));
    // due too soon for either: the earliest end, and it says so
    let hopeless = place("5");
    assert_eq!(hopeless["pool"], "dear");
    assert!(hopeless["placement_reason"].as_str().unwrap().contains("none meets the deadline"));
    assert_eq!(hopeless["deadline_at_risk"], true);
    s.wait_state(&sub, urgent["id"].as_u64().unwrap(), "succeeded");
    std::fs::write(&marker, "").unwrap();
    kill_group(&mut w_dear);
    kill_group(&mut w_cheap);
}
