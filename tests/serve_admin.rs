//! End to end, on loopback: the `Admin` service of a real `foresight
//! serve` process (policy versions, the mode, tenants' limits by RPC, the
//! decision log), driven by `foresight admin` as an admin runs it and by a
//! worker leasing over gRPC; the predicted start, the refusals' metrics,
//! the tracing spans; and `foresight shadow --serve` against it (shadow and
//! enforce), on both stores (`sqlite::` and `postgres::`,
//! the latter skipped, said on stderr, without PostgreSQL unless
//! `FORESIGHT_REQUIRE_POSTGRES=1`).

use foresight_server::pb;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

#[macro_use]
mod serve_common;
use serve_common::{Backend, scrape};

const BIN: &str = env!("CARGO_BIN_EXE_foresight");

impl Backend {
    /// The audit table's (action, detail) rows, in order.
    fn audit(&self, data: &Path) -> Vec<(String, String)> {
        let sql = "SELECT action, detail FROM audit ORDER BY id";
        match self {
            Backend::Sqlite => {
                let c = rusqlite::Connection::open(data.join("foresight.db")).unwrap();
                let mut st = c.prepare(sql).unwrap();
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
            }
            Backend::Postgres(url) => {
                let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
                c.query(sql, &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
            }
        }
    }
}

on_both_stores!(
    enforce_against_a_real_serve_gates_and_lifts_jobs_and_every_job_runs,
    shadow_against_a_real_serve_writes_a_decision_log,
    rpcs_and_dispatch_decisions_are_traced_as_json_spans_with_tenant_and_job,
    the_submit_answer_carries_the_predicted_start_and_the_slack_from_it,
    reflection_and_health_serve_the_admin_service,
    policy_versions_are_audited_reversible_admin_only_and_survive_a_restart,
    the_mode_and_the_policy_version_change_what_dispatches_and_shadow_logs_the_candidate,
    tenants_limits_are_set_by_rpc_audited_and_hold_at_the_next_submit,
);

/// A running server; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    data: tempfile::TempDir,
    backend: Backend,
    banner: String,
    /// The metrics URL, when started with `--metrics`.
    metrics: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(b: &Backend, data: tempfile::TempDir, extra: &[&str]) -> Server {
        Server::start_env(b, data, extra, &[])
    }

    /// Starts a server with `extra` arguments and `env`; its standard error
    /// (the log) goes to `serve.log` in its data folder.
    fn start_env(b: &Backend, data: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let d = data.path().to_str().unwrap().to_string();
        let log = std::fs::File::options().create(true).append(true).open(data.path().join("serve.log")).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data", &d, "--lease-ttl-ms", "60000"])
            .args(b.args())
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let shown = serve_common::banner(&mut child, extra.contains(&"--metrics"));
        let addr = shown.addr.expect(&shown.line);
        Server { child, addr, data, backend: b.clone(), banner: shown.line, metrics: shown.metrics }
    }

    /// Kills the server with SIGKILL and starts it again on the same data.
    fn crash_and_restart(mut self, extra: &[&str]) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        Server::start(&self.backend, data, extra)
    }

    fn token(&self, tenant: &str, role: &str) -> String {
        serve_common::token(self.data.path(), &self.backend, tenant, role)
    }

    /// `foresight ARGS --server ADDR --token TOK`.
    fn cli(&self, tok: &str, args: &[&str]) -> Output {
        serve_common::cli(&self.addr, tok, args)
    }

    /// A `foresight worker` `w1` of `cpus` CPUs on this server, quiet.
    fn worker(&self, tok: &str, cpus: &str) -> Child {
        Command::new(BIN)
            .args(["worker", "--server", &self.addr, "--id", "w1", "--cpus", cpus, "--poll-ms", "100"])
            .args(["--heartbeat-ms", "300"])
            .env("FORESIGHT_TOKEN", tok)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `foresight admin ARGS` that must succeed: its JSON lines.
    fn admin(&self, tok: &str, args: &[&str]) -> Vec<serde_json::Value> {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let o = self.cli(tok, &all);
        assert!(o.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// `foresight admin ARGS` that must fail with exit code 2: its stderr.
    fn admin_refused(&self, tok: &str, args: &[&str]) -> String {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let o = self.cli(tok, &all);
        assert_eq!(o.status.code(), Some(2), "admin {args:?}: {}", String::from_utf8_lossy(&o.stdout));
        String::from_utf8_lossy(&o.stderr).into_owned()
    }
}

fn policy_versions_are_audited_reversible_admin_only_and_survive_a_restart(b: Backend) {
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    let (admin, op) = (s.token("root", "admin"), s.token("ops", "operator"));
    let (sub, wk) = (s.token("acme", "submitter"), s.token("pool", "worker"));
    assert!(s.banner.contains("policy foresight v1"), "{}", s.banner);
    let v1 = &s.admin(&op, &["policy", "show"])[0];
    assert_eq!(
        (v1["version"].as_u64(), v1["policy"].as_str(), v1["by_role"].as_str()),
        (Some(1), Some("foresight"), Some("serve"))
    );

    // roles: submitters and workers see nothing; operators read, not change
    for t in [&sub, &wk] {
        assert!(s.admin_refused(t, &["policy", "show"]).contains("PERMISSION_DENIED"));
        assert!(s.admin_refused(t, &["mode", "set", "shadow"]).contains("PERMISSION_DENIED"));
    }
    assert!(s.admin_refused(&op, &["policy", "set", "--policy", "sjf"]).contains("PERMISSION_DENIED"));
    assert!(s.admin_refused(&op, &["policy", "rollback", "1"]).contains("PERMISSION_DENIED"));

    // a bad spec is refused naming its field
    let e = s.admin_refused(&admin, &["policy", "set", "--policy", "nope"]);
    assert!(e.contains("INVALID_ARGUMENT: policy:"), "{e}");
    let e = s.admin_refused(&admin, &["policy", "set", "--policy", "sjf", "--predictor", "wat"]);
    assert!(e.contains("INVALID_ARGUMENT: predictor:"), "{e}");
    let e = s.admin_refused(&admin, &["policy", "set", "--policy", "sjf", "--predictor", "clairvoyant"]);
    assert!(e.contains("INVALID_ARGUMENT: predictor:"), "{e}");

    let v2 = &s.admin(&admin, &["policy", "set", "--policy", "sjf", "--predictor", "requested", "--note", "try"])[0];
    assert_eq!(
        (v2["version"].as_u64(), v2["active"].as_bool(), v2["by_tenant"].as_str()),
        (Some(2), Some(true), Some("root"))
    );
    let v3 = &s.admin(&admin, &["policy", "rollback", "1", "--note", "back"])[0];
    assert_eq!(
        (v3["version"].as_u64(), v3["policy"].as_str(), v3["restores"].as_u64()),
        (Some(3), Some("foresight"), Some(1))
    );
    let e = s.admin_refused(&admin, &["policy", "rollback", "9"]);
    assert!(e.contains("INVALID_ARGUMENT: version: no version 9 (the latest is 3)"), "{e}");
    s.admin(&admin, &["policy", "set", "--policy", "edf"]);
    let all = s.admin(&op, &["policy", "list"]);
    let names: Vec<_> = all
        .iter()
        .map(|v| {
            (v["version"].as_u64().unwrap(), v["policy"].as_str().unwrap().to_string(), v["active"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        names,
        [
            (1, "foresight".into(), false),
            (2, "sjf".into(), false),
            (3, "foresight".into(), false),
            (4, "edf".into(), true)
        ]
    );

    // who, when, from what to what
    let audit = b.audit(s.data.path());
    let policy: Vec<&str> = audit.iter().filter(|(a, _)| a.starts_with("policy-")).map(|(_, d)| d.as_str()).collect();
    assert_eq!(policy.len(), 4, "{audit:?}");
    assert!(
        policy[1].contains("v2: from v1 (policy `foresight`, predictor its own) to policy `sjf`, predictor requested"),
        "{policy:?}"
    );
    assert!(policy[2].contains("v3: from v2") && policy[2].contains("(restoring v1)"), "{policy:?}");
    assert!(audit.iter().any(|(a, _)| a == "policy-rollback"), "{audit:?}");

    // stored: a restart dispatches with v4, and its --policy does not override it
    let s = s.crash_and_restart(&["--policy", "fcfs"]);
    assert!(s.banner.contains("policy edf v4"), "{}", s.banner);
    assert_eq!(s.admin(&op, &["policy", "show"])[0]["version"].as_u64(), Some(4));
}

/// A gRPC worker of 1 CPU in pool `default`: its lease's job ids.
async fn lease(w: &mut foresight_server::client::Workers) -> Vec<u64> {
    let r = pb::LeaseRequest { worker_id: "w1".into(), pool: "default".into(), cpus: 1, ..Default::default() };
    w.lease(r).await.unwrap().into_inner().leases.iter().map(|l| l.job.as_ref().unwrap().id).collect()
}

async fn complete(w: &mut foresight_server::client::Workers, id: u64) {
    let r = pb::CompleteRequest { worker_id: "w1".into(), job_id: id, attempt: 1, exit_code: 0 };
    w.complete(r).await.unwrap();
}

/// Submits a long job (1000 s) then a short one (10 s); their ids.
async fn long_then_short(j: &mut foresight_server::client::Jobs, key: &str) -> (u64, u64) {
    let mut ids = Vec::new();
    for (k, limit) in [("long", 1000.0), ("short", 10.0)] {
        let r = pb::SubmitRequest {
            idempotency_key: format!("{key}-{k}"),
            resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
            time_limit_s: limit,
            command: "true".into(),
            ..Default::default()
        };
        ids.push(j.submit(r).await.unwrap().into_inner().job.unwrap().id);
    }
    (ids[0], ids[1])
}

fn the_mode_and_the_policy_version_change_what_dispatches_and_shadow_logs_the_candidate(b: Backend) {
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    let (admin, op) = (s.token("root", "admin"), s.token("ops", "operator"));
    let (sub, wk) = (s.token("acme", "submitter"), s.token("pool", "worker"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut jobs, _) = rt.block_on(foresight_server::client::connect(&s.addr, &sub)).unwrap();
    let (_, mut w) = rt.block_on(foresight_server::client::connect(&s.addr, &wk)).unwrap();
    // the candidate: shortest job first, by the time asked
    s.admin(&admin, &["policy", "set", "--policy", "sjf", "--predictor", "requested"]);

    // shadow (an operator may set it): the baseline (fcfs) starts the long job, the log says sjf would start the short
    let m = &s.admin(&op, &["mode", "set", "shadow", "--note", "trial"])[0];
    assert_eq!(
        (m["mode"].as_str(), m["baseline"].as_str(), m["by_role"].as_str()),
        (Some("shadow"), Some("fcfs"), Some("operator"))
    );
    let (a, bb) = rt.block_on(long_then_short(&mut jobs, "shadow"));
    assert_eq!(rt.block_on(lease(&mut w)), [a]);
    rt.block_on(complete(&mut w, a));
    assert_eq!(rt.block_on(lease(&mut w)), [bb]);
    rt.block_on(complete(&mut w, bb));
    let log = s.admin(&op, &["decisions"]);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[0]["dispatched"].clone(), log[0]["candidate"].clone()),
        (serde_json::json!([a]), serde_json::json!([bb]))
    );
    assert_eq!(
        (log[0]["mode"].as_str(), log[0]["differs"].as_bool(), log[0]["policy_version"].as_u64()),
        (Some("shadow"), Some(true), Some(2))
    );
    assert_eq!((log[1]["candidate_policy"].as_str(), log[1]["differs"].as_bool()), (Some("sjf"), Some(false)));

    // advise: the baseline still dispatches; only the differing choice is logged, as a proposal
    s.admin(&admin, &["mode", "set", "advise"]);
    let (c, d) = rt.block_on(long_then_short(&mut jobs, "advise"));
    assert_eq!(rt.block_on(lease(&mut w)), [c]);
    rt.block_on(complete(&mut w, c));
    assert_eq!(rt.block_on(lease(&mut w)), [d]);
    rt.block_on(complete(&mut w, d));
    let log = s.admin(&op, &["decisions", "--after", &log[1]["id"].to_string()]);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (log[0]["dispatched"].clone(), log[0]["candidate"].clone(), log[0]["mode"].as_str()),
        (serde_json::json!([c]), serde_json::json!([d]), Some("advise"))
    );

    // enforce: the candidate dispatches, short first, and logs nothing more
    s.admin(&op, &["mode", "set", "enforce"]);
    let (e, f) = rt.block_on(long_then_short(&mut jobs, "enforce"));
    assert_eq!(rt.block_on(lease(&mut w)), [f]);
    rt.block_on(complete(&mut w, f));
    assert_eq!(rt.block_on(lease(&mut w)), [e]);
    rt.block_on(complete(&mut w, e));
    assert_eq!(s.admin(&op, &["decisions"]).len(), 3);

    // a rollback to v1 (foresight: arrival order first here) holds from the next dispatch on
    s.admin(&admin, &["policy", "rollback", "1"]);
    let (g, h) = rt.block_on(long_then_short(&mut jobs, "rollback"));
    assert_eq!(rt.block_on(lease(&mut w)), [g]);
    rt.block_on(complete(&mut w, g));
    assert_eq!(rt.block_on(lease(&mut w)), [h]);
    let events = s.cli(&sub, &["jobs", "get", &h.to_string()]);
    assert!(events.status.success());

    // the mode is audited and stored
    let audit = b.audit(s.data.path());
    let modes: Vec<&str> = audit.iter().filter(|(a, _)| a == "mode-set").map(|(_, d)| d.as_str()).collect();
    assert_eq!(modes, ["from enforce to shadow: trial", "from shadow to advise", "from advise to enforce"]);
    s.admin(&admin, &["mode", "set", "shadow"]);
    let s = s.crash_and_restart(&[]);
    assert_eq!(s.admin(&op, &["mode", "show"])[0]["mode"].as_str(), Some("shadow"));
}

fn tenants_limits_are_set_by_rpc_audited_and_hold_at_the_next_submit(b: Backend) {
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &["--metrics", "127.0.0.1:0"]);
    let (admin, op, sub) = (s.token("root", "admin"), s.token("ops", "operator"), s.token("acme", "submitter"));
    let set = ["tenant", "set", "--tenant", "acme", "--rate", "0.001", "--burst", "2"];
    assert!(s.admin_refused(&op, &set).contains("PERMISSION_DENIED"));
    assert!(s.admin_refused(&sub, &["tenant", "list"]).contains("PERMISSION_DENIED"));
    let e = s.admin_refused(&admin, &["tenant", "set", "--tenant", "acme", "--rate=-1"]);
    assert!(e.contains("INVALID_ARGUMENT: rate_per_s:"), "{e}");
    let e = s.admin_refused(&admin, &["tenant", "set", "--tenant", "acme", "--over-budget", "maybe"]);
    assert!(e.contains("INVALID_ARGUMENT: over_budget:"), "{e}");
    let e = s.admin_refused(&admin, &["tenant", "set", "--tenant", "a b"]);
    assert!(e.contains("INVALID_ARGUMENT: tenant:"), "{e}");
    let l = &s.admin(&admin, &set)[0];
    assert_eq!(
        (l["tenant"].as_str(), l["burst"].as_u64(), l["over_budget"].as_str()),
        (Some("acme"), Some(2), Some("wait"))
    );
    assert_eq!(s.admin(&op, &["tenant", "get", "--tenant", "acme"])[0]["rate_per_s"].as_f64(), Some(0.001));
    assert!(s.admin_refused(&op, &["tenant", "get", "--tenant", "nobody"]).contains("NOT_FOUND"));
    assert_eq!(s.admin(&op, &["tenant", "list"]).len(), 1);
    // the burst of 2 holds at once
    let submit = |k: &str| s.cli(&sub, &["submit", "--cpus", "1", "--key", k, "--", "true"]);
    assert!(submit("k1").status.success() && submit("k2").status.success());
    let third = submit("k3");
    assert!(String::from_utf8_lossy(&third.stderr).contains("RESOURCE_EXHAUSTED"), "{third:?}");
    let audit = b.audit(s.data.path());
    assert!(audit.iter().any(|(a, d)| a == "tenant-set" && d.starts_with("acme: rate 0.001/s burst 2")), "{audit:?}");
    // a GPU budget that refuses: 0.001 GPU-hours a day, and a job asking a GPU for a predicted 600 s
    let (globex, sub2) = (s.token("globex", "submitter"), "globex");
    s.admin(&admin, &["tenant", "set", "--tenant", sub2, "--gpu-hours-per-day", "0.001", "--over-budget", "refuse"]);
    let o =
        s.cli(&globex, &["submit", "--cpus", "1", "--gpus", "1", "--time-limit", "600", "--key", "g", "--", "true"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("GPU budget"), "{o:?}");
    // both refusals are counted, by tenant and reason
    let text = scrape(s.metrics.as_ref().unwrap());
    for want in [
        "foresight_serve_refusals_total{tenant=\"acme\",reason=\"rate_limit\"} 1",
        "foresight_serve_refusals_total{tenant=\"globex\",reason=\"gpu_budget\"} 1",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
}

fn reflection_and_health_serve_the_admin_service(b: Backend) {
    use tonic_reflection::pb::v1::{
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ch = tonic::transport::Channel::from_shared(format!("http://{}", s.addr)).unwrap().connect().await.unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let ask = tonic_health::pb::HealthCheckRequest { service: "foresight.v1.Admin".into() };
        let r = health.check(ask).await.unwrap();
        assert_eq!(r.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
        // `grpcurl ADDR describe foresight.v1.Admin` asks for the file that defines it
        let mut refl = tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(ch);
        let asks = [
            MessageRequest::ListServices(String::new()),
            MessageRequest::FileContainingSymbol("foresight.v1.Admin".into()),
        ]
        .map(|m| tonic_reflection::pb::v1::ServerReflectionRequest { host: String::new(), message_request: Some(m) });
        let mut answers = refl.server_reflection_info(tokio_stream::iter(asks)).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("no service list")
        };
        assert!(list.service.iter().any(|s| s.name == "foresight.v1.Admin"), "{:?}", list.service);
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("no file for foresight.v1.Admin")
        };
        // the encoded descriptor names its file and the service's methods
        let has = |f: &[u8], w: &str| f.windows(w.len()).any(|x| x == w.as_bytes());
        let file =
            files.file_descriptor_proto.iter().find(|f| has(f, "foresight/v1/admin.proto")).expect("admin.proto");
        assert!(has(file, "UpdatePolicy") && has(file, "RollbackPolicy") && has(file, "SetMode"));
    });
}

fn the_submit_answer_carries_the_predicted_start_and_the_slack_from_it(b: Backend) {
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &["--predictor", "requested"]);
    let (sub, wk) = (s.token("acme", "submitter"), s.token("pool", "worker"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut jobs, _) = rt.block_on(foresight_server::client::connect(&s.addr, &sub)).unwrap();
    let (_, mut w) = rt.block_on(foresight_server::client::connect(&s.addr, &wk)).unwrap();
    let submit = |key: &str, deadline_ms: i64| pb::SubmitRequest {
        idempotency_key: key.into(),
        resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
        time_limit_s: 1000.0,
        deadline_ms,
        command: "true".into(),
        ..Default::default()
    };
    // no live worker yet: no prediction
    let first = rt.block_on(jobs.submit(submit("a", 0))).unwrap().into_inner().job.unwrap();
    assert_eq!(first.predicted_start_ms, None);
    assert_eq!(rt.block_on(lease(&mut w)), [first.id]);
    let started = rt.block_on(jobs.get(pb::GetJobRequest { id: first.id })).unwrap().into_inner().started_at_ms;
    // the worker's one CPU is held for a predicted 1000 s: the next job starts then, the one after 1000 s later
    let now = foresight_server::service::now_ms();
    let second = rt.block_on(jobs.submit(submit("b", now + 1_500_000))).unwrap().into_inner().job.unwrap();
    let third = rt.block_on(jobs.submit(submit("c", 0))).unwrap().into_inner().job.unwrap();
    assert_eq!(second.predicted_start_ms, Some(started + 1_000_000));
    assert_eq!(third.predicted_start_ms, Some(started + 2_000_000));
    // slack from the predicted start: about 1500 - 1000 - 1000 s
    let slack = second.slack_s.unwrap();
    assert!((-510.0..=-490.0).contains(&slack), "{slack}");
    assert!(second.deadline_at_risk);
    // `jobs get` shows it too
    let o = s.cli(&sub, &["jobs", "get", &second.id.to_string()]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["predicted_start_ms"].as_i64(), Some(started + 1_000_000));
}

fn rpcs_and_dispatch_decisions_are_traced_as_json_spans_with_tenant_and_job(b: Backend) {
    let env = [("RUST_LOG", "info,foresight_server=debug")];
    let s = Server::start_env(&b, tempfile::tempdir().unwrap(), &["--log-format", "json"], &env);
    let (sub, wk, admin) = (s.token("acme", "submitter"), s.token("pool", "worker"), s.token("root", "admin"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut jobs, _) = rt.block_on(foresight_server::client::connect(&s.addr, &sub)).unwrap();
    let (_, mut w) = rt.block_on(foresight_server::client::connect(&s.addr, &wk)).unwrap();
    let (long, _) = rt.block_on(long_then_short(&mut jobs, "t"));
    assert_eq!(rt.block_on(lease(&mut w)), [long]);
    s.admin(&admin, &["mode", "set", "shadow"]);
    // a span is written as it closes, which may be just after its answer
    let t0 = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(s.data.path().join("serve.log")).unwrap();
        let closed_set = text.lines().any(|l| l.contains("\"close\"") && l.contains("\"SetMode\""));
        if closed_set || t0.elapsed().as_secs() > 5 {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let closed = |name: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["fields"]["message"] == "close" && l["span"]["name"] == name)
            .map(|l| &l["span"])
            .collect()
    };
    let rpcs = closed("rpc");
    let submit = rpcs.iter().find(|s| s["method"] == "Submit").expect(&text);
    assert_eq!((submit["service"].as_str(), submit["tenant"].as_str()), (Some("foresight.v1.Jobs"), Some("acme")));
    assert!(submit["job_id"].as_u64().is_some(), "{submit}");
    let leased = rpcs.iter().find(|s| s["method"] == "Lease").expect(&text);
    assert_eq!(leased["tenant"].as_str(), Some("pool"));
    let set = rpcs.iter().find(|s| s["method"] == "SetMode").expect(&text);
    assert_eq!((set["service"].as_str(), set["tenant"].as_str()), (Some("foresight.v1.Admin"), Some("root")));
    let dispatch = closed("dispatch");
    let d = dispatch.iter().find(|d| d["started"] == 1).expect(&text);
    assert_eq!(
        (d["worker"].as_str(), d["mode"].as_str(), d["policy"].as_str()),
        (Some("w1"), Some("enforce"), Some("foresight"))
    );
    // an info event for the change, inside its RPC's span
    assert!(lines.iter().any(|l| l["fields"]["message"] == "mode set" && l["span"]["method"] == "SetMode"), "{text}");
}

fn shadow_against_a_real_serve_writes_a_decision_log(b: Backend) {
    use foresight_controller::log::{self, Body};
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    let (op, sub, wk) = (s.token("ops", "operator"), s.token("acme", "submitter"), s.token("pool", "worker"));
    let dir = tempfile::tempdir().unwrap();
    let (shadow, log_path) = spawn_shadow(&s, &op, dir.path(), &["--duration-s", "8"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let mut ids = Vec::new();
    for i in 0..4 {
        let o = s.cli(
            &sub,
            &["submit", "--json", "--cpus", "1", "--time-limit", "30", "--key", &format!("k{i}"), "--", "sleep 1"],
        );
        assert!(o.status.success(), "{o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        ids.push(v["id"].as_u64().unwrap().to_string());
    }
    let mut worker = s.worker(&wk, "2");
    let out = shadow.wait_with_output().unwrap();
    let _ = worker.kill();
    let _ = worker.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<log::Record> = log::read_log(&log_path).unwrap().into_iter().flat_map(|s| s.records).collect();
    assert!(matches!(records.first().map(|r| &r.body), Some(Body::Start(_))), "{records:?}");
    assert!(matches!(records.last().map(|r| &r.body), Some(Body::Stop(_))), "{records:?}");
    let cycles = records.iter().filter(|r| matches!(r.body, Body::Cycle(_))).count();
    assert!(cycles >= 2, "{cycles} cycles");
    // each job that ran and ended is reported once, with the candidate's prediction and its error
    for id in &ids {
        let fins: Vec<_> = records
            .iter()
            .filter_map(|r| if let Body::Finished(f) = &r.body { (&f.job_id == id).then_some(f) } else { None })
            .collect();
        assert_eq!(fins.len(), 1, "job {id}: {records:?}");
        assert!(fins[0].predicted_runtime_s.is_some() && fins[0].error_s.is_some(), "job {id}: {:?}", fins[0]);
        assert_eq!(fins[0].model_version.as_deref(), Some("serve-e2e"));
    }
    // no outage: the orchestrator was reachable throughout
    assert!(!records.iter().any(|r| matches!(r.body, Body::Outage(_))), "{records:?}");
}

fn enforce_against_a_real_serve_gates_and_lifts_jobs_and_every_job_runs(b: Backend) {
    use foresight_controller::log::{self, Act, Body};
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    let (op, sub, wk) = (s.token("ops", "operator"), s.token("acme", "submitter"), s.token("pool", "worker"));
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--mode", "enforce", "--control-partition", "default", "--lease-s", "20", "--duration-s", "10"];
    let (shadow, log_path) = spawn_shadow(&s, &op, dir.path(), &extra);
    std::thread::sleep(std::time::Duration::from_millis(800));
    // one worker of one CPU, three jobs of 1.5 s: two wait while one runs
    let mut ids = Vec::new();
    for i in 0..3 {
        let o = s.cli(
            &sub,
            &["submit", "--json", "--cpus", "1", "--time-limit", "30", "--key", &format!("e{i}"), "--", "sleep 1.5"],
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{o:?}"));
        ids.push(v["id"].as_u64().unwrap());
    }
    let mut worker = s.worker(&wk, "1");
    let out = shadow.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // every job runs: the gates the candidate set were lifted as it started them, or at the stop
    let t0 = std::time::Instant::now();
    for id in &ids {
        loop {
            let o = s.cli(&sub, &["jobs", "get", &id.to_string()]);
            let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            if j["state"] == "succeeded" {
                break;
            }
            assert!(t0.elapsed().as_secs() < 30, "job {id} never ran: {j}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let records: Vec<log::Record> = log::read_log(&log_path).unwrap().into_iter().flat_map(|s| s.records).collect();
    let acts: Vec<(Act, Vec<String>)> = records
        .iter()
        .filter_map(|r| if let Body::Action(a) = &r.body { Some((a.act, a.job_ids.clone())) } else { None })
        .collect();
    assert!(acts.iter().any(|(a, _)| matches!(a, Act::Gate { lease_s: 20 })), "{acts:?}");
    assert!(acts.iter().any(|(a, _)| matches!(a, Act::Lift)), "{acts:?}");
    // every action took effect on serve
    let outcomes: Vec<bool> =
        records.iter().filter_map(|r| if let Body::Outcome(o) = &r.body { Some(o.ok) } else { None }).collect();
    assert!(!outcomes.is_empty() && outcomes.iter().all(|&ok| ok), "{records:?}");
    // and serve audited each gate and lift as the operator's
    let audit = b.audit(s.data.path());
    assert!(audit.iter().any(|(a, d)| a == "gated" && d.starts_with("not before")), "{audit:?}");
    assert!(audit.iter().any(|(a, _)| a == "lifted"), "{audit:?}");
}

/// Two replicas on one PostgreSQL: a policy version and a mode set through
/// the standby hold at the active one's next dispatch.
#[test]
fn postgres_a_policy_and_mode_set_through_a_standby_hold_at_the_active_replicas_next_dispatch() {
    let Some(b) = Backend::postgres("admin_replicas") else { return };
    let active = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    let standby = Server::start(&b, tempfile::tempdir().unwrap(), &[]);
    assert!(active.banner.contains("active dispatcher") && standby.banner.contains("standby replica"));
    let (admin, sub, wk) =
        (active.token("root", "admin"), active.token("acme", "submitter"), active.token("p", "worker"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut jobs, _) = rt.block_on(foresight_server::client::connect(&active.addr, &sub)).unwrap();
    let (_, mut w) = rt.block_on(foresight_server::client::connect(&active.addr, &wk)).unwrap();
    let v2 = &standby.admin(&admin, &["policy", "set", "--policy", "sjf", "--predictor", "requested"])[0];
    assert_eq!(v2["version"].as_u64(), Some(2));
    assert_eq!(active.admin(&admin, &["policy", "show"])[0]["policy"].as_str(), Some("sjf"));
    // the active replica's next dispatch follows v2: the short job first
    let (long, short) = rt.block_on(long_then_short(&mut jobs, "r1"));
    assert_eq!(rt.block_on(lease(&mut w)), [short]);
    rt.block_on(complete(&mut w, short));
    assert_eq!(rt.block_on(lease(&mut w)), [long]);
    rt.block_on(complete(&mut w, long));
    // and shadow, set through the standby: the baseline (fcfs) dispatches, the log says so
    standby.admin(&admin, &["mode", "set", "shadow"]);
    let (long, short) = rt.block_on(long_then_short(&mut jobs, "r2"));
    assert_eq!(rt.block_on(lease(&mut w)), [long]);
    let log = standby.admin(&admin, &["decisions"]);
    assert_eq!(
        (log[0]["dispatched"].clone(), log[0]["candidate"].clone()),
        (serde_json::json!([long]), serde_json::json!([short]))
    );
}

/// `foresight shadow --serve` against `s` with operator token `op`, a
/// built-in easy++ model and its decision log in `dir`, and `extra`
/// arguments; its stderr piped.
fn spawn_shadow(s: &Server, op: &str, dir: &Path, extra: &[&str]) -> (Child, std::path::PathBuf) {
    let (model, log_path) = (dir.join("model.json"), dir.join("decisions.log"));
    std::fs::write(&model, r#"{"predictor": "easy++", "version": "serve-e2e"}"#).unwrap();
    let shadow = Command::new(BIN)
        .args(["shadow", "--serve", &s.addr, "--serve-token", op, "--policy", "easy++", "--poll-ms", "200"])
        .args(["--timer-s", "0.5", "--deadline-ms", "3000", "--drift-threshold", "inf", "--log-level", "warn"])
        .args(extra)
        .arg("--model")
        .arg(&model)
        .arg("--log")
        .arg(&log_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (shadow, log_path)
}
