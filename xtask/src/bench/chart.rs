//! The comparison chart as SVG, written by hand: three panels (requests/sec,
//! p50, p99), a row per workload, keel's and etcd's bars side by side, each
//! pair scaled to its larger value so the ratio reads at a glance across
//! workloads whose scales differ by orders of magnitude. A plotting crate
//! would pull font and image dependencies into xtask for a few rectangles.

use std::fmt::Write;

use super::results::Figures;
use super::results::Row;

const LABEL_W: f64 = 230.0;
const PANEL_W: f64 = 300.0;
const ROW_H: f64 = 34.0;
const BAR_H: f64 = 12.0;
const TOP: f64 = 50.0;
const KEEL_COLOR: &str = "#1f77b4";
const ETCD_COLOR: &str = "#ff7f0e";

/// One panel: its title and how it reads a value.
struct Panel {
    title: &'static str,
    value: fn(&Figures) -> f64,
    unit: &'static str,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "requests/sec (higher is better)",
        value: |f| f.rps,
        unit: "",
    },
    Panel {
        title: "p50 latency (lower is better)",
        value: |f| f.p50_ms,
        unit: " ms",
    },
    Panel {
        title: "p99 latency (lower is better)",
        value: |f| f.p99_ms,
        unit: " ms",
    },
];

/// The chart of `rows`, as an SVG document.
pub(crate) fn svg(rows: &[Row], title: &str) -> String {
    let width = LABEL_W + PANEL_W * PANELS.len() as f64 + 20.0;
    let height = TOP + ROW_H * rows.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    legend(&mut s, width);
    for (p, panel) in PANELS.iter().enumerate() {
        let x0 = LABEL_W + PANEL_W * p as f64;
        let _ = writeln!(
            s,
            r#"<text x="{x0}" y="{}" font-weight="bold">{}</text>"#,
            TOP - 8.0,
            panel.title
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="10" y="{}">{}</text>"#,
            y + ROW_H / 2.0 + 4.0,
            escape(&row.workload)
        );
        for (p, panel) in PANELS.iter().enumerate() {
            let x0 = LABEL_W + PANEL_W * p as f64;
            let keel = row.keel.as_ref().map(panel.value);
            let etcd = row.etcd.as_ref().map(panel.value);
            let max = keel.unwrap_or(0.0).max(etcd.unwrap_or(0.0));
            bar(&mut s, x0, y + 4.0, keel, max, KEEL_COLOR, panel.unit);
            bar(
                &mut s,
                x0,
                y + 4.0 + BAR_H + 2.0,
                etcd,
                max,
                ETCD_COLOR,
                panel.unit,
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn legend(s: &mut String, width: f64) {
    let x = width - 160.0;
    let _ = writeln!(
        s,
        r#"<rect x="{x}" y="8" width="12" height="12" fill="{KEEL_COLOR}"/>"#
    );
    let _ = writeln!(s, r#"<text x="{}" y="18">keel</text>"#, x + 16.0);
    let _ = writeln!(
        s,
        r#"<rect x="{}" y="8" width="12" height="12" fill="{ETCD_COLOR}"/>"#,
        x + 60.0
    );
    let _ = writeln!(s, r#"<text x="{}" y="18">etcd 3.4</text>"#, x + 76.0);
}

fn bar(s: &mut String, x: f64, y: f64, value: Option<f64>, max: f64, color: &str, unit: &str) {
    let room = PANEL_W - 90.0;
    let Some(v) = value else {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}" fill="gray">n/a</text>"#,
            y + BAR_H - 2.0
        );
        return;
    };
    let w = if max > 0.0 {
        (v / max * room).max(1.0)
    } else {
        1.0
    };
    let _ = writeln!(
        s,
        r#"<rect x="{x}" y="{y}" width="{w:.1}" height="{BAR_H}" fill="{color}"/>"#
    );
    let label = if unit.is_empty() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}{unit}")
    };
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{}">{label}</text>"#,
        x + w + 4.0,
        y + BAR_H - 2.0
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_a_bar_per_server_and_panel() {
        let f = Figures {
            rps: 100.0,
            p50_ms: 1.0,
            p99_ms: 2.0,
            errors: 0,
            peak_rss_mib: None,
        };
        let rows = vec![Row {
            workload: "put <1>".into(),
            keel: Some(f),
            etcd: None,
        }];
        let doc = svg(&rows, "t");
        assert!(doc.starts_with("<svg") && doc.ends_with("</svg>\n"));
        assert!(doc.contains("put &lt;1&gt;"));
        // Three keel bars, a legend swatch per server, the background.
        assert_eq!(doc.matches("<rect").count(), 3 + 2 + 1);
        assert_eq!(doc.matches(">n/a<").count(), 3);
    }
}
