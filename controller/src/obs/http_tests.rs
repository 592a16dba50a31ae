//! Tests of the endpoint: routes, status codes, and when health degrades.

use super::*;

fn healthy() -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::default());
    metrics.update(|v| {
        v.queue_depth = 3;
        v.orchestrator_up = 1;
    });
    metrics
}

#[tokio::test]
async fn serves_metrics_health_and_404() {
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), healthy()).await.unwrap();
    let (code, body) = get(addr, "/metrics").await.unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("foresight_queue_depth 3\n"), "{body}");
    let (code, body) = get(addr, "/healthz").await.unwrap();
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["reason"], serde_json::Value::Null);
    assert_eq!(get(addr, "/nope").await.unwrap().0, 404);
    task.abort();
}

#[tokio::test]
async fn health_answers_503_with_the_reason_while_degraded() {
    let metrics = healthy();
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone()).await.unwrap();
    for (state, word) in [(2, "open"), (1, "half-open")] {
        metrics.update(|v| v.breaker_state = state);
        let (code, body) = get(addr, "/healthz").await.unwrap();
        assert_eq!(code, 503, "{body}");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["status"], "degraded");
        assert!(health["reason"].as_str().unwrap().contains(&format!("circuit breaker {word}")), "{body}");
    }
    metrics.update(|v| v.breaker_state = 0);
    assert_eq!(get(addr, "/healthz").await.unwrap().0, 200, "healthy again");
    task.abort();
}

#[tokio::test]
async fn an_outage_of_the_orchestrator_is_degraded_and_fails_the_check() {
    let metrics = healthy();
    metrics.update(|v| v.orchestrator_up = 0);
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone()).await.unwrap();
    let (code, body) = get(addr, "/healthz").await.unwrap();
    assert_eq!(code, 503, "the controller waits, seeing nothing: {body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&health["status"], &health["orchestrator_up"]), (&"degraded".into(), &false.into()));
    assert_eq!(health["reason"], "orchestrator unreachable");
    metrics.update(|v| v.breaker_state = 2);
    let (code, body) = get(addr, "/healthz").await.unwrap();
    assert_eq!(code, 503);
    assert!(body.contains("late; orchestrator unreachable"), "both reasons: {body}");
    task.abort();
}

#[tokio::test]
async fn no_cycle_for_too_long_is_degraded_and_a_cycle_heals_it() {
    let metrics = healthy();
    let (addr, task) = serve_with("127.0.0.1:0".parse().unwrap(), metrics.clone(), Duration::ZERO).await.unwrap();
    let (code, body) = get(addr, "/healthz").await.unwrap();
    assert_eq!(code, 503);
    assert!(body.contains("no cycle for"), "{body}");
    task.abort();

    let (addr, task) = serve_with("127.0.0.1:0".parse().unwrap(), metrics.clone(), Duration::from_secs(3600)).await.unwrap();
    metrics.update(|v| v.last_cycle_unix_s = 100.0);
    assert_eq!(get(addr, "/healthz").await.unwrap().0, 200);
    task.abort();
}

#[test]
fn reasons_add_up() {
    let v = Values { breaker_state: 2, ..Values::default() };
    let why = degraded(&v, Duration::from_secs(300), STALE_AFTER).unwrap();
    assert_eq!(why, "circuit breaker open: the model is missing, failing or late; no cycle for 300 s");
    let v = Values { orchestrator_up: 0, ..Values::default() };
    assert_eq!(degraded(&v, Duration::from_secs(119), STALE_AFTER), None, "the breaker and the cycles are sound (health adds the outage)");
    assert!(degraded(&v, STALE_AFTER, STALE_AFTER).is_some());
}

#[test]
fn a_cycle_resets_the_time_since_the_last_one() {
    let m = Metrics::default();
    std::thread::sleep(Duration::from_millis(200));
    let before = m.since_last_cycle();
    assert!(before >= Duration::from_millis(200));
    m.update(|v| v.queue_depth = 1);
    assert!(m.since_last_cycle() >= before, "only a new cycle time resets it");
    m.update(|v| v.last_cycle_unix_s = 5.0);
    assert!(m.since_last_cycle() < before);
}
