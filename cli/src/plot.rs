//! The `eoslog bench --plot` chart: one horizontal bar panel per workload family, a bar per
//! case and system, eoslog in blue and its baselines in other colours.
//!
//! Drawn with `plotters`' bitmap backend and an embedded font (DejaVu Sans, from the `dejavu`
//! crate, through `ab_glyph`), so it needs no system fonts and no C libraries.

use std::path::Path;
use std::sync::Once;

use eoslog_benches::report::{Report, Row};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Class, CliError, CliResult};

/// One panel: a title and its bars (label, value).
struct Panel {
    title: String,
    bars: Vec<(String, String, f64)>,
}

const WIDTH: u32 = 1400;
const BAR: u32 = 24;
const PANEL_EXTRA: u32 = 80;
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded TTF is valid; if registration failed, text would be missing, not wrong.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// The colour of a system: eoslog blue, raw I/O grey, commitlog orange, SQLite green.
fn colour(system: &str) -> RGBColor {
    if system.starts_with("eoslog std") {
        RGBColor(120, 160, 220)
    } else if system.starts_with("eoslog") {
        RGBColor(31, 90, 180)
    } else if system.starts_with("raw") {
        RGBColor(128, 128, 128)
    } else if system.starts_with("commitlog") {
        RGBColor(230, 140, 30)
    } else if system.starts_with("sqlite") {
        RGBColor(60, 160, 80)
    } else {
        RGBColor(150, 100, 170)
    }
}

fn panels(report: &Report) -> Vec<Panel> {
    let families: [(&[&str], &str); 6] = [
        (&["W1"], "W1 — appends of 16 KiB batches, durability none (GB/s, higher is better)"),
        (&["W3", "W4"], "W3 idempotent / W4 transactional appends vs plain (GB/s, higher is better)"),
        (&["W2"], "W2 — durability always, concurrent appenders, group commit (appends/s, higher is better)"),
        (&["W5", "W6"], "W5 read_committed scan, 10% aborted / W6 recovery scan of an unclean log (GB/s)"),
        (&["W7"], "W7 — open time of a cleanly closed log (ms, lower is better)"),
        (&["dedup"], "Dedup check per batch, no I/O (ns, lower is better)"),
    ];
    let mut out = Vec::new();
    for (workloads, title) in families {
        let mut seen = std::collections::BTreeSet::new();
        let rows: Vec<&Row> = report
            .rows
            .iter()
            .filter(|r| workloads.contains(&r.workload.as_str()))
            // The plain baselines of W3/W4 are listed under both names: draw them once.
            .filter(|r| seen.insert((r.case.clone(), r.system.clone())))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let bars = rows
            .iter()
            .map(|r| {
                let label = if workloads.len() > 1 && !r.system.contains("plain") {
                    format!("{} {} · {}", r.workload, r.case, r.system)
                } else {
                    format!("{} · {}", r.case, r.system)
                };
                (label, r.system.clone(), r.value)
            })
            .collect();
        out.push(Panel { title: title.to_string(), bars });
    }
    out
}

fn fmt(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn draw_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::new(Class::Unreadable, format!("cannot draw the chart {}: {e}", path.display()))
}

/// Draws the report's rows to a PNG file.
pub fn draw(report: &Report, path: &Path) -> CliResult {
    register_font();
    let panels = panels(report);
    if panels.is_empty() {
        return Err(CliError::new(Class::Failed, "nothing to plot: the report has no rows"));
    }
    let heights: Vec<u32> = panels.iter().map(|p| PANEL_EXTRA + BAR * p.bars.len() as u32).collect();
    let total: u32 = 50 + heights.iter().sum::<u32>();
    let root = BitMapBackend::new(path, (WIDTH, total)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(path, e))?;
    let m = &report.machine;
    let heading = format!(
        "eoslog bench — {} CPUs, {}, kernel {}, {} · medians of {} runs",
        m.cpus, m.cpu_model, m.kernel, m.filesystem, report.config.reps
    );
    let (top, mut rest) = root.split_vertically(50);
    top.draw_text(&heading, &(FONT, 20).into_font().color(&BLACK), (12, 14))
        .map_err(|e| draw_error(path, e))?;
    for (panel, h) in panels.iter().zip(&heights) {
        let (area, below) = rest.split_vertically(*h);
        rest = below;
        let n = panel.bars.len();
        let max = panel.bars.iter().map(|b| b.2).fold(0.0f64, f64::max).max(1e-9) * 1.18;
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, (FONT, 16))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(420)
            .build_cartesian_2d(0f64..max, (0..n).into_segmented())
            .map_err(|e| draw_error(path, e))?;
        // Bars top-down in report order: segment i from the bottom holds bar n-1-i.
        let label_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => panel.bars[n - 1 - *i].0.clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label_of)
            .x_labels(8)
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| draw_error(path, e))?;
        chart
            .draw_series(panel.bars.iter().enumerate().map(|(k, (_, system, value))| {
                let i = n - 1 - k;
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(i)), (*value, SegmentValue::Exact(i + 1))],
                    colour(system).filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(|e| draw_error(path, e))?;
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        chart
            .draw_series(panel.bars.iter().enumerate().map(|(k, (_, _, value))| {
                let i = n - 1 - k;
                Text::new(format!(" {}", fmt(*value)), (*value, SegmentValue::CenterOf(i)), style.clone())
            }))
            .map_err(|e| draw_error(path, e))?;
    }
    root.present().map_err(|e| draw_error(path, e))?;
    Ok(())
}
