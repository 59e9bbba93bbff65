//! The progress chart: restricted devices over time per site sensitivity, as inline SVG.

use crate::HistoryPoint;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Render the history as an SVG line chart (one line per sensitivity).
pub fn progress_svg(history: &[HistoryPoint]) -> String {
    let (w, h) = (640.0f64, 240.0f64);
    let (ml, mr, mt, mb) = (48.0, 16.0, 24.0, 40.0);
    let mut pts: Vec<HistoryPoint> = history.to_vec();
    pts.sort_by_key(|p| p.date);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="progress-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="chart-title"><title id="chart-title">Restricted devices over time, by site sensitivity</title>"#
    );
    let _ = write!(
        s,
        r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>"##
    );
    if pts.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">no history recorded</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let ymax = pts
        .iter()
        .map(|p| p.sensitive.max(p.other))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (t0, t1) = (pts[0].date, pts[pts.len() - 1].date);
    let span = (t1 - t0).num_days().max(1) as f64;
    let x = |d: chrono::NaiveDate| {
        if t0 == t1 {
            ml + (w - ml - mr) / 2.0
        } else {
            ml + (d - t0).num_days() as f64 / span * (w - ml - mr)
        }
    };
    let y = |v: u64| mt + (1.0 - v as f64 / ymax) * (h - mt - mb);
    // Axes and grid.
    let _ = write!(
        s,
        r##"<g stroke="#999" stroke-width="1"><line x1="{ml}" y1="{mt}" x2="{ml}" y2="{}"/><line x1="{ml}" y1="{}" x2="{}" y2="{}"/></g>"##,
        h - mb,
        h - mb,
        w - mr,
        h - mb
    );
    for frac in [0.0, 0.5, 1.0] {
        let v = (ymax * frac).round() as u64;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#333">{v}</text>"##,
            ml - 6.0,
            y(v) + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{ml}" y="{}" font-size="11" fill="#333">{}</text>"##,
        h - mb + 16.0,
        t0
    );
    if t1 != t0 {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#333">{}</text>"##,
            w - mr,
            h - mb + 16.0,
            t1
        );
    }
    for (name, colour, get) in [
        (
            "sensitive sites",
            "#b2182b",
            (|p: &HistoryPoint| p.sensitive) as fn(&HistoryPoint) -> u64,
        ),
        ("other sites", "#2166ac", |p: &HistoryPoint| p.other),
    ] {
        let line: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.date), y(get(p))))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="series" data-series="{}" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            esc(name),
            line.join(" ")
        );
        for p in &pts {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{} {}: {}</title></circle>"#,
                x(p.date),
                y(get(p)),
                p.date,
                esc(name),
                get(p)
            );
        }
    }
    let _ = write!(
        s,
        r##"<g font-size="12"><rect x="{}" y="6" width="10" height="10" fill="#b2182b"/><text x="{}" y="15">sensitive sites</text><rect x="{}" y="6" width="10" height="10" fill="#2166ac"/><text x="{}" y="15">other sites</text></g>"##,
        ml + 8.0,
        ml + 22.0,
        ml + 130.0,
        ml + 144.0
    );
    if pts.len() == 1 {
        // A fresh register: say how the line will grow rather than leave a lone dot unexplained.
        let _ = write!(
            s,
            r##"<text class="one-point" x="{}" y="{}" font-size="11" text-anchor="middle" fill="#555">one snapshot so far: each report run records the day's counts, so the trend builds up over time</text>"##,
            (ml + w - mr) / 2.0,
            h - 6.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn a_single_snapshot_is_explained() {
        let p = HistoryPoint {
            date: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
            sensitive: 3,
            other: 1,
        };
        assert!(progress_svg(std::slice::from_ref(&p)).contains("one snapshot so far"));
        let mut q = p;
        q.date = NaiveDate::from_ymd_opt(2026, 12, 29).unwrap();
        assert!(!progress_svg(&[p, q]).contains("one snapshot so far"));
    }

    #[test]
    fn chart_has_one_line_per_sensitivity_and_points() {
        let d = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
        let svg = progress_svg(&[
            HistoryPoint {
                date: d(3),
                sensitive: 4,
                other: 9,
            },
            HistoryPoint {
                date: d(1),
                sensitive: 10,
                other: 12,
            },
        ]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("2026-01-01") && svg.contains("2026-03-01"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(progress_svg(&[]).contains("no history"));
    }
}
