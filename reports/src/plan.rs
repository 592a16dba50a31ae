//! The capacity plan's report (`foresight plan`): the recommendation, the
//! forecast band over the horizon beside the horizon before it, the size
//! against the target's metric at the point forecast and at the upper
//! quantile, the job classes resampled, and today's size day by day; and
//! the backtest's report (`foresight plan --backtest`): each planner's
//! score and every period's need beside each planner's size.

use crate::chart::axis::Axis;
use crate::chart::{Series, line};
use crate::doc::{Block, Doc, Table};
use foresight_simulator::plan::backtest::{Backtest, PLANNERS};
use foresight_simulator::plan::{Metric, Plan, TenantSplit};

/// A day's date (`YYYY-MM-DD`) of Unix seconds.
pub fn date(unix_s: f64) -> String {
    let z = (unix_s / 86_400.0).floor() as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{m:02}-{d:02}", era * 400 + yoe + i64::from(m <= 2))
}

/// The metric's axis unit and scale (hours for waits).
fn scale(m: Metric) -> (f64, &'static str) {
    if m.is_wait() { (3600.0, "hours") } else { (1.0, "") }
}

/// The plan's headline, as `plan` prints it.
pub fn headline(p: &Plan) -> String {
    let o = &p.outlook;
    let days = o.jobs.len() as f64 / 24.0;
    let c = &p.recommended_cluster;
    let gpus = if c.gpus > 0 {
        let by: Vec<String> = c.gpus_by_type.iter().map(|(t, n)| format!("{n} {t}")).collect();
        format!(", {} GPUs ({})", c.gpus, by.join(", "))
    } else {
        String::new()
    };
    let today = match p.missed_from_day {
        Some(_) if p.today < p.recommended && p.today_by_day.iter().all(|v| p.target.met(*v)) => format!(
            "today's {} {} are below the recommendation: the synthetic workloads meet the target there ({} {}), but the earlier periods' real jobs needed {:.2} times what their synthetic ones did.",
            p.today,
            p.unit,
            p.target.metric.name(),
            p.target.metric.show(p.today_value),
            p.correction
        ),
        None => format!(
            "today's {} {} meet it ({} {}).",
            p.today,
            p.unit,
            p.target.metric.name(),
            p.target.metric.show(p.today_value)
        ),
        Some(d) => format!(
            "at today's {} {} the target would be missed from day {} ({}) on: {} {} over the horizon.",
            p.today,
            p.unit,
            d + 1,
            date(o.start_s + o.calendar_offset_s + d as f64 * 86_400.0),
            p.target.metric.name(),
            p.target.metric.show(p.today_value)
        ),
    };
    format!(
        "Recommended: {} {} ({} nodes, {} CPUs{gpus}) for {} over the {days:.0} days from {}, at the forecast's {:.0}th percentile of work ({:.0} requested CPU hours; point forecast {:.0}): synthetic workloads need {} {}, times {:.2} for the bias measured on {} earlier period(s); {today}",
        p.recommended,
        p.unit,
        c.nodes,
        c.cpus,
        p.target,
        date(o.start_s + o.calendar_offset_s),
        100.0 * o.level,
        o.upper_work(),
        o.point_work(),
        p.synthetic,
        p.unit,
        p.correction,
        p.calibration.len(),
    )
}

/// The demand by tenant: each tenant's forecast and band beside what it
/// requested in the horizon before.
fn tenant_blocks(split: &TenantSplit, level: f64) -> Vec<Block> {
    let key = split.tenants.key;
    let mut t = Table::new(&[
        &key.to_string(),
        "requested CPU hours in the horizon before",
        "point forecast",
        &format!("{:.0}th percentile", 100.0 * (1.0 - level)),
        &format!("{:.0}th percentile", 100.0 * level),
        "jobs, point forecast",
    ]);
    for o in &split.outlooks {
        let point = o.point_work();
        t.row(vec![
            o.name.clone(),
            format!("{:.0}", o.recent_work),
            format!("{point:.0}"),
            format!("{:.0}", point * o.lower_factor),
            format!("{:.0}", point * o.upper_factor),
            format!("{:.0}", o.jobs.iter().sum::<f64>()),
        ]);
    }
    vec![
        Block::Heading(format!("Demand by {key}")),
        Block::Para(format!(
            "Each {key} below (the largest by requested work in the recent past, and the rest together as {}) is forecast on its own hourly series, with a band from its own earlier horizons. The plan's totals and band are the whole cluster's forecast (above); each tenant's synthetic jobs, resampled from its own recent jobs in its own forecast hours, take the share of that work its point forecast has of this column's sum.",
            foresight_simulator::plan::tenants::OTHER
        )),
        Block::Table(t),
    ]
}

/// The plan's report.
pub fn doc(p: &Plan) -> Doc {
    let o = &p.outlook;
    let m = p.target.metric;
    let mut blocks =
        vec![Block::Verdict(headline(p)), Block::Heading("Forecast".into()), Block::Para(format!("{}.", o.method))];
    let mut t = Table::new(&["measure", "value"]);
    t.row(vec!["horizon (hours)".into(), o.jobs.len().to_string()]);
    t.row(vec!["jobs, point forecast".into(), format!("{:.0}", o.jobs.iter().sum::<f64>())]);
    t.row(vec!["requested CPU hours, point forecast".into(), format!("{:.0}", o.point_work())]);
    t.row(vec![
        format!("requested CPU hours, {:.0}th percentile", 100.0 * (1.0 - o.level)),
        format!("{:.0}", o.point_work() * o.lower_factor),
    ]);
    t.row(vec![format!("requested CPU hours, {:.0}th percentile", 100.0 * o.level), format!("{:.0}", o.upper_work())]);
    t.row(vec![
        "requested CPU hours in the horizon before".into(),
        format!("{:.0}", o.recent_work.iter().sum::<f64>()),
    ]);
    let hourly = |name: &str, v: &[f64], from: f64, k: f64| Series {
        name: name.into(),
        points: v.iter().enumerate().map(|(i, x)| ((from + i as f64) / 24.0, x * k)).collect(),
    };
    let before = -(o.recent_work.len() as f64);
    let series = vec![
        hourly("seen (the horizon before)", &o.recent_work, before, 1.0),
        hourly("forecast", &o.work, 0.0, 1.0),
        hourly(&format!("upper ({:.0}th percentile)", 100.0 * o.level), &o.work, 0.0, o.upper_factor),
        hourly(&format!("lower ({:.0}th percentile)", 100.0 * (1.0 - o.level)), &o.work, 0.0, o.lower_factor),
    ];
    let top = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max);
    let caption = "Requested CPU hours per hour: the horizon before, and the forecast with its band".to_string();
    let x = Axis::linear("days from the horizon's start", before / 24.0, o.work.len().max(1) as f64 / 24.0);
    let svg = line::render(&caption, x, Axis::linear("requested CPU hours per hour", 0.0, top), &series);
    blocks.push(Block::Figure { caption, svg, table: t });
    if let Some(split) = &o.split {
        blocks.extend(tenant_blocks(split, o.level));
    }

    blocks.push(Block::Heading("Size against the target".into()));
    blocks.push(Block::Para(format!(
        "Each size replays {} synthetic workload(s) of the horizon (seeds {}) under {} from an empty machine; the value is the mean over seeds of {} over the workload's jobs. About {:.0} jobs per workload at the upper quantile.",
        p.seeds.len(),
        p.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        p.policy,
        m.name(),
        p.upper_jobs
    )));
    let (k, unit) = scale(m);
    let mut t = Table::new(&["size", "at the point forecast", "at the upper quantile", "meets the target"]);
    for c in &p.curve {
        t.row(vec![
            format!("{} {}", c.size, p.unit),
            m.show(c.at_point),
            m.show(c.at_upper),
            if p.target.met(c.at_upper) { "yes" } else { "no" }.into(),
        ]);
    }
    let pts = |f: &dyn Fn(&foresight_simulator::plan::CurvePoint) -> f64| {
        p.curve.iter().map(|c| (f64::from(c.size), f(c) / k)).collect::<Vec<_>>()
    };
    let (lo, hi) = (p.curve.first().map_or(0, |c| c.size), p.curve.last().map_or(1, |c| c.size));
    let series = vec![
        Series { name: "point forecast".into(), points: pts(&|c| c.at_point) },
        Series { name: format!("upper quantile ({:.0}th percentile)", 100.0 * o.level), points: pts(&|c| c.at_upper) },
        Series {
            name: format!("target ({})", p.target),
            points: vec![(f64::from(lo), p.target.limit / k), (f64::from(hi), p.target.limit / k)],
        },
    ];
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(p.target.limit / k * 1.2, f64::max);
    let caption = format!(
        "{} of synthetic workloads against cluster size (smallest meeting the target: {} {}; recommended: {})",
        m.name(),
        p.synthetic,
        p.unit,
        p.recommended
    );
    let y = Axis::linear(&format!("{} {unit}", m.name()), 0.0, top);
    let svg = line::render(
        &caption,
        Axis::linear(&format!("size ({})", p.unit), f64::from(lo), f64::from(hi.max(lo + 1))),
        y,
        &series,
    );
    blocks.push(Block::Figure { caption, svg, table: t });

    blocks.push(Block::Heading("The synthesis's bias".into()));
    blocks.push(Block::Para(format!(
        "For each earlier period, the size its real jobs needed (replayed from an empty machine) against the size synthetic workloads needed with its real arrivals per hour and its real work. The recommendation is the synthetic size ({} {}) times the ratios' quantile used ({:.2}).",
        p.synthetic, p.unit, p.correction
    )));
    let mut t = Table::new(&["period from", "real need", "synthetic need", "ratio"]);
    for c in &p.calibration {
        let ratio =
            if c.synthetic > 0 { format!("{:.2}", f64::from(c.real) / f64::from(c.synthetic)) } else { "-".into() };
        t.row(vec![date(c.start_s + o.calendar_offset_s), c.real.to_string(), c.synthetic.to_string(), ratio]);
    }
    blocks.push(Block::Table(t));
    blocks.push(Block::Heading("Job classes resampled".into()));
    blocks.push(Block::Para("k-means over log CPUs, log runtime and log requested time of the recent past's jobs; a synthetic job is a real job of a class drawn in the classes' proportions.".into()));
    let mut t = Table::new(&[
        "class",
        "jobs",
        "share (%)",
        "work share (%)",
        "mean CPUs",
        "mean runtime (h)",
        "mean request (h)",
    ]);
    for (i, c) in p.classes.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            c.jobs.to_string(),
            format!("{:.1}", 100.0 * c.share),
            format!("{:.1}", 100.0 * c.work_share),
            format!("{:.1}", c.mean_cpus),
            format!("{:.2}", c.mean_runtime_s / 3600.0),
            format!("{:.2}", c.mean_request_s / 3600.0),
        ]);
    }
    blocks.push(Block::Table(t));
    blocks.push(Block::Heading(format!("Today's size ({} {}), day by day, at the upper quantile", p.today, p.unit)));
    let mut t = Table::new(&["day", "date", m.name(), "meets the target"]);
    for (d, v) in p.today_by_day.iter().enumerate() {
        let day = date(o.start_s + o.calendar_offset_s + d as f64 * 86_400.0);
        t.row(vec![(d + 1).to_string(), day, m.show(*v), if p.target.met(*v) { "yes" } else { "no" }.into()]);
    }
    blocks.push(Block::Table(t));
    Doc { title: "foresight capacity plan".into(), blocks }
}

/// True when the backtest met the goal: the plan met the target in at
/// least 90 % of periods with less than half the over-provisioning of the
/// last need times growth.
pub fn goal_met(b: &Backtest) -> bool {
    let (plan, growth) = (&b.scores[0], &b.scores[2]);
    plan.periods > 0 && plan.met as f64 >= 0.9 * plan.periods as f64 && plan.over_pct < 0.5 * growth.over_pct
}

/// The backtest's report.
pub fn backtest_doc(title: &str, b: &Backtest) -> Doc {
    let o = &b.options;
    let m = o.plan.target.metric;
    let s = &b.scores;
    let mut blocks = vec![Block::Verdict(format!(
        "The plan met {} in {} of {} periods ({:.0}%) with {:.1}% over-provisioning when met; last period's need x growth met it in {} ({:.1}% over). Goal (at least 90% met, less than half the over-provisioning of last need x growth): {}.",
        o.plan.target,
        s[0].met,
        s[0].periods,
        100.0 * s[0].met as f64 / s[0].periods.max(1) as f64,
        s[0].over_pct,
        s[2].met,
        s[2].over_pct,
        if goal_met(b) { "met" } else { "not met" }
    ))];
    let mut t = Table::new(&[
        "planner",
        "periods",
        "met",
        "met (%)",
        "over-provisioning when met (%)",
        "shortfall when missed (%)",
        &format!("mean size ({})", b.unit),
    ]);
    for sc in s {
        t.row(vec![
            sc.planner.clone(),
            sc.periods.to_string(),
            sc.met.to_string(),
            format!("{:.0}", 100.0 * sc.met as f64 / sc.periods.max(1) as f64),
            format!("{:.1}", sc.over_pct),
            format!("{:.1}", sc.short_pct),
            format!("{:.1}", sc.mean_size),
        ]);
    }
    blocks.push(Block::Table(t));
    blocks.push(Block::Para(format!(
        "Periods of {:.1} days; policy {}; {} seed(s); {} classes from the last {:.0} days; band level {:.2}; bias measured on {} earlier periods, corrected at its {:.2} quantile; today's size {} {}.",
        o.period_s / 86_400.0,
        o.plan.run.policy,
        o.plan.seeds.len(),
        o.plan.classes,
        o.plan.window_s / 86_400.0,
        o.level,
        o.plan.calibration_periods,
        o.plan.correction_level,
        b.today,
        b.unit
    )));
    let mut header = vec!["period", "jobs", "requested CPU h", "need", &"at today's size"];
    header.extend(PLANNERS);
    let mut t = Table::new(&header);
    let cell = |d: &Option<foresight_simulator::plan::backtest::Decision>| match d {
        Some(d) => format!("{}{}", d.size, if d.met { "" } else { " (missed)" }),
        None => "-".into(),
    };
    for p in &b.periods {
        let mut row = vec![
            p.index.to_string(),
            p.jobs.to_string(),
            format!("{:.0}", p.work_cpu_h),
            p.need.to_string(),
            m.show(p.at_today),
        ];
        row.extend(p.sizes.iter().map(cell));
        t.row(row);
    }
    let series: Vec<Series> = std::iter::once(("need", None))
        .chain(PLANNERS.iter().enumerate().map(|(i, n)| (*n, Some(i))))
        .map(|(name, i)| Series {
            name: name.into(),
            points: b
                .periods
                .iter()
                .filter_map(|p| match i {
                    None => p.sizes[0].map(|_| (p.index as f64, f64::from(p.need))),
                    Some(i) => p.sizes[i].map(|d| (p.index as f64, f64::from(d.size))),
                })
                .collect(),
        })
        .collect();
    let top = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max);
    let caption = format!("Size needed and planned per period ({})", b.unit);
    let x = Axis::linear("period", 0.0, b.periods.len().max(1) as f64);
    let svg = line::render(&caption, x, Axis::linear(&b.unit, 0.0, top), &series);
    blocks.push(Block::Figure { caption, svg, table: t });
    Doc { title: title.into(), blocks }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil() {
        assert_eq!(super::date(0.0), "1970-01-01");
        assert_eq!(super::date(843_480_031.0), "1996-09-23");
        assert_eq!(super::date(951_782_400.0), "2000-02-29");
    }
}
