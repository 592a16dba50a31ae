//! Tests of the log writer: resume, torn tails at every byte, damage, rotation.

use super::*;
use crate::log::reader::read_log;
use crate::log::record::StopRecord;

fn body(i: u64) -> Body {
    Body::Stop(StopRecord { reason: format!("record {i}"), cycles: i })
}

fn seqs(path: &Path) -> Vec<u64> {
    read_log(path).unwrap().iter().flat_map(|s| s.records.iter().map(|r| r.seq)).collect()
}

#[test]
fn appends_and_resumes_sequence_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig::new(dir.path().join("d.log"));
    let mut w = LogWriter::open(cfg.clone()).unwrap();
    assert!(!w.open_report().resumed);
    for i in 0..3 {
        assert_eq!(w.append(1.0, body(i)).unwrap(), i);
    }
    drop(w);
    let mut w = LogWriter::open(cfg.clone()).unwrap();
    assert!(w.open_report().resumed);
    assert_eq!(w.append(2.0, body(3)).unwrap(), 3);
    assert_eq!(seqs(&cfg.path), vec![0, 1, 2, 3]);
}

#[test]
fn a_torn_tail_at_every_byte_is_cut_and_the_log_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.log");
    let mut w = LogWriter::open(LogConfig::new(&full)).unwrap();
    for i in 0..3 {
        w.append(1.0, body(i)).unwrap();
    }
    drop(w);
    let bytes = std::fs::read(&full).unwrap();
    let ends: Vec<u64> = {
        let (recs, _) = frame::scan(&bytes);
        recs.iter().map(|(off, p)| off + (frame::HEADER_LEN + p.len()) as u64).collect()
    };
    for cut in 0..bytes.len() {
        let path = dir.path().join(format!("cut{cut}.log"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut as u64).count() as u64;
        let mut w = LogWriter::open(LogConfig::new(&path)).unwrap();
        assert_eq!(w.next_seq(), complete, "cut at {cut}");
        w.append(2.0, body(99)).unwrap();
        drop(w);
        let scans = read_log(&path).unwrap();
        assert_eq!(scans.len(), 1, "cut at {cut}");
        assert_eq!(scans[0].tail, Tail::Clean, "cut at {cut}");
        let expect: Vec<u64> = (0..=complete).collect();
        assert_eq!(seqs(&path), expect, "cut at {cut}");
    }
}

#[test]
fn a_damaged_file_is_kept_aside_and_a_new_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig::new(dir.path().join("d.log"));
    let mut w = LogWriter::open(cfg.clone()).unwrap();
    for i in 0..3 {
        w.append(1.0, body(i)).unwrap();
    }
    drop(w);
    let mut bytes = std::fs::read(&cfg.path).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    std::fs::write(&cfg.path, &bytes).unwrap();
    let mut w = LogWriter::open(cfg.clone()).unwrap();
    let aside = w.open_report().damaged_segment.clone().expect("moved aside");
    assert_eq!(std::fs::read(&aside).unwrap(), bytes, "damaged file kept as it was");
    assert_eq!(w.append(2.0, body(9)).unwrap(), 2, "continues after the last valid record");
    let scans = read_log(&cfg.path).unwrap();
    assert!(matches!(scans[0].tail, Tail::Corrupt { .. }));
    assert_eq!(seqs(&cfg.path), vec![0, 1, 2]);
}

#[test]
fn rotates_by_size_and_reads_segments_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LogConfig::new(dir.path().join("d.log"));
    cfg.max_bytes = 300;
    cfg.fsync = FsyncPolicy::Every(4);
    let mut w = LogWriter::open(cfg.clone()).unwrap();
    for i in 0..20 {
        w.append(1.0, body(i)).unwrap();
    }
    drop(w);
    let files = crate::log::segments(&cfg.path).unwrap();
    assert!(files.len() > 3, "{files:?}");
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 300);
    }
    assert_eq!(seqs(&cfg.path), (0..20).collect::<Vec<_>>());
    let w = LogWriter::open(cfg.clone()).unwrap();
    assert_eq!(w.next_seq(), 20);
}
