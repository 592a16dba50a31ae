//! Headless Chromium for the report tests: find it (a missing Chromium
//! skips, or fails under `FORESIGHT_REQUIRE_CHROMIUM=1`), open a page,
//! check every chart drew data with a legend and axis labels and that the
//! console stayed clean, and save a screenshot. Shared by the reports
//! crate's tests and the binary's (`tests/plan_cli.rs`) through `#[path]`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where Chromium is looked for (Debian's package, then others' names).
const CANDIDATES: [&str; 3] = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

pub fn chromium() -> Option<PathBuf> {
    let found = CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        let required = std::env::var("FORESIGHT_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1");
        assert!(!required, "FORESIGHT_REQUIRE_CHROMIUM=1 but no chromium in {CANDIDATES:?}");
        println!("skipped: chromium not installed");
    }
    found
}

/// Runs headless Chromium on `page` with `args`, in a fresh profile, with
/// the network features that would phone home turned off.
fn headless(bin: &Path, profile: &Path, args: &[String], page: &Path) -> Output {
    Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

/// Console messages Chromium logged (`CONSOLE` lines and uncaught errors).
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect()
}

/// Where pages and screenshots go (kept after the test, for a person).
pub fn out_dir() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-chromium");
    std::fs::create_dir_all(&out).unwrap();
    out
}

/// Opens `page` in Chromium: `charts` charts in the DOM, each with data
/// marks, a legend and axis labels; a clean console; a screenshot beside it.
/// Hands back the rendered DOM.
pub fn check_page(bin: &Path, page: &Path, charts: usize) -> String {
    let profile = tempfile::tempdir().unwrap();
    let dom = headless(bin, profile.path(), &["--dump-dom".into()], page);
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let html = String::from_utf8(dom.stdout).unwrap();
    let svgs: Vec<&str> = html.split("<svg").skip(1).collect();
    assert_eq!(svgs.len(), charts, "charts in the rendered DOM of {}", page.display());
    for chart in &svgs {
        let svg = &chart[..chart.find("</svg>").expect("a closed svg")];
        let marks = svg.matches(r#"class="data""#).count();
        assert!(marks > 0, "a chart without data marks: {}", &svg[..svg.len().min(300)]);
        assert!(!svg.contains(r#"d="""#) && !svg.contains("NaN"), "a chart with an empty or NaN mark");
        assert!(svg.contains(r#"class="legend""#) && svg.contains(r#"class="axis-label""#));
    }
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert_eq!(console_errors(&stderr), Vec::<&str>::new(), "console messages while loading the report");

    let shot = page.with_extension("png");
    let args = [format!("--screenshot={}", shot.display()), "--window-size=1280,2400".into()];
    let run = headless(bin, profile.path(), &args, page);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");
    println!("screenshot: {}", shot.display());
    html
}
