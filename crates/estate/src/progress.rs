//! A remediation history and the progress series it makes: devices removed on known dates, the
//! estate as it stood on a past date, and the restricted-device counts recorded at each quarter
//! end, each judged by the rules in force on that date. The demo builds its trend with these;
//! the report's chart and pace read the points back ([`crate::report::history`]).

use crate::judge::judge;
use crate::report::history;
use crate::{EstateError, Result};
use camtrace_kb::Kb;
use camtrace_model::{Device, DeviceClass, DeviceStatus, Estate};
use camtrace_policy::PolicySet;
use camtrace_report::HistoryPoint;
use camtrace_store::Store;
use chrono::{Datelike, NaiveDate};

/// Most rows of a remediation history.
pub const MAX_REMOVALS: usize = 100_000;

/// A device removed on a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    pub date: NaiveDate,
    /// The device as registered (status `removed`).
    pub device: Device,
}

/// Read a remediation history: CSV with the header
/// `removed,device,site,network,brand,model,class,install_date` (dates `YYYY-MM-DD`; network,
/// model and install date may be empty); lines starting with `#` are comments. Errors name the
/// line.
pub fn read_removals(text: &str) -> Result<Vec<Removal>> {
    const HEADER: [&str; 8] = [
        "removed",
        "device",
        "site",
        "network",
        "brand",
        "model",
        "class",
        "install_date",
    ];
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let bad = |line: u64, what: String| EstateError::Invalid(format!("line {line}: {what}"));
    let header = r
        .headers()
        .map_err(|e| EstateError::Invalid(format!("remediation history: {e}")))?
        .clone();
    if header.iter().ne(HEADER) {
        return Err(EstateError::Invalid(format!(
            "remediation history: the header must be `{}`",
            HEADER.join(",")
        )));
    }
    let date = |line: u64, field: &str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bad(line, format!("{field} `{s}` is not a date (YYYY-MM-DD)")))
    };
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| EstateError::Invalid(format!("remediation history: {e}")))?;
        let line = rec.position().map_or(0, |p| p.line());
        if out.len() == MAX_REMOVALS {
            return Err(bad(line, format!("more than {MAX_REMOVALS} rows")));
        }
        let field = |i: usize| rec.get(i).unwrap_or_default();
        let opt = |i: usize| Some(field(i).to_string()).filter(|s| !s.is_empty());
        let removed = date(line, "removed", field(0))?;
        let (id, site) = (field(1), field(2));
        if id.is_empty() || site.is_empty() {
            return Err(bad(line, "device and site are required".into()));
        }
        let class: DeviceClass = field(6).parse().map_err(|e: String| bad(line, e))?;
        let install_date = match field(7) {
            "" => None,
            s => Some(date(line, "install_date", s)?),
        };
        if install_date.is_some_and(|i| i > removed) {
            return Err(bad(line, "installed after it was removed".into()));
        }
        let mut device: Device = serde_json::from_value(serde_json::json!({
            "id": id,
            "site": site,
        }))
        .map_err(|e| bad(line, e.to_string()))?;
        device.network = opt(3);
        device.brand = opt(4);
        device.model = opt(5);
        device.class = class;
        device.status = DeviceStatus::Removed;
        device.install_date = install_date;
        device.notes = Some(format!("removed on {removed} (remediation history)"));
        out.push(Removal {
            date: removed,
            device,
        });
    }
    Ok(out)
}

/// The estate as it stood at the end of `date`: devices installed after it left out, devices
/// removed after it still installed.
pub fn as_it_stood(estate: &Estate, removals: &[Removal], date: NaiveDate) -> Estate {
    let mut e = estate.clone();
    e.devices
        .retain(|d| d.install_date.is_none_or(|i| i <= date));
    for d in &mut e.devices {
        if let Some(r) = removals.iter().find(|r| r.device.id == d.id) {
            if r.date > date {
                d.status = DeviceStatus::Installed;
            }
        }
    }
    e
}

/// The last day of each quarter from the quarter of `from` up to, not including, `until`.
pub fn quarter_ends(from: NaiveDate, until: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let (mut y, mut q) = (from.year(), from.month0() / 3);
    loop {
        // The day before the next quarter's first day.
        let (ny, nm) = if q == 3 { (y + 1, 1) } else { (y, q * 3 + 4) };
        let Some(end) = NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt()) else {
            break;
        };
        if end >= until {
            break;
        }
        out.push(end);
        (y, q) = if q == 3 { (y + 1, 0) } else { (y, q + 1) };
    }
    out
}

/// Record the progress series of the whole estate: at each quarter end since the first removal,
/// the estate as it stood ([`as_it_stood`]) judged by the rules in force that day, its
/// restricted-device counts stored as that date's point. Returns the points recorded.
pub async fn record_progress(
    store: &dyn Store,
    kb: &Kb,
    policies: &PolicySet,
    estate: &Estate,
    removals: &[Removal],
    regimes: &[String],
    until: NaiveDate,
) -> Result<Vec<HistoryPoint>> {
    let Some(first) = removals.iter().map(|r| r.date).min() else {
        return Ok(Vec::new());
    };
    let mut points = Vec::new();
    for date in quarter_ends(first, until) {
        let then = as_it_stood(estate, removals, date);
        let judged = judge(kb, policies, then, regimes, date)?;
        let series = history(store, &judged, date, None, None, true).await?;
        if let Some(p) = series.into_iter().find(|p| p.date == date) {
            points.push(p);
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const HISTORY: &str = "# comment\nremoved,device,site,network,brand,model,class,install_date\n2023-03-07,a-r1,a,a-core,Hikvision,DS-2CD2143G0-I,camera,2018-01-15\n2024-11-30,a-r2,a,,Dahua,,recorder,\n";

    #[test]
    fn a_history_reads_as_removed_devices() {
        let r = read_removals(HISTORY).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].date, d("2023-03-07"));
        assert_eq!(r[0].device.status, DeviceStatus::Removed);
        assert_eq!(r[0].device.network.as_deref(), Some("a-core"));
        assert_eq!(r[0].device.install_date, Some(d("2018-01-15")));
        assert_eq!(r[1].device.class, DeviceClass::Recorder);
        assert!(r[1].device.model.is_none() && r[1].device.network.is_none());
    }

    #[test]
    fn bad_histories_are_refused_with_their_line() {
        for (text, want) in [
            ("removed,device\n", "header"),
            (
                "removed,device,site,network,brand,model,class,install_date\n2023-13-01,a,s,,,,camera,\n",
                "line 2: removed `2023-13-01`",
            ),
            (
                "removed,device,site,network,brand,model,class,install_date\n2023-01-01,,s,,,,camera,\n",
                "line 2: device and site",
            ),
            (
                "removed,device,site,network,brand,model,class,install_date\n2023-01-01,a,s,,,,toaster,\n",
                "line 2:",
            ),
            (
                "removed,device,site,network,brand,model,class,install_date\n2023-01-01,a,s,,,,camera,2024-01-01\n",
                "installed after it was removed",
            ),
            (
                "removed,device,site,network,brand,model,class,install_date\n2023-01-01,a,s\n",
                "remediation history",
            ),
        ] {
            let e = read_removals(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_estate_as_it_stood_puts_later_removals_back() {
        let r = read_removals(HISTORY).unwrap();
        let mut e = Estate {
            devices: r.iter().map(|x| x.device.clone()).collect(),
            ..Default::default()
        };
        let mut new: Device =
            serde_json::from_value(serde_json::json!({"id": "n", "site": "a"})).unwrap();
        new.install_date = Some(d("2024-06-01"));
        e.devices.push(new);
        let status = |e: &Estate, id: &str| e.devices.iter().find(|x| x.id == id).map(|x| x.status);
        let t = as_it_stood(&e, &r, d("2023-12-31"));
        assert_eq!(status(&t, "a-r1"), Some(DeviceStatus::Removed));
        assert_eq!(status(&t, "a-r2"), Some(DeviceStatus::Installed));
        assert_eq!(status(&t, "n"), None, "not yet installed");
        let t = as_it_stood(&e, &r, d("2024-12-31"));
        assert_eq!(status(&t, "a-r2"), Some(DeviceStatus::Removed));
        assert_eq!(status(&t, "n"), Some(DeviceStatus::Installed));
    }

    #[test]
    fn quarter_ends_run_from_the_first_quarter_to_before_the_end() {
        assert_eq!(
            quarter_ends(d("2023-02-10"), d("2024-01-01")),
            [
                d("2023-03-31"),
                d("2023-06-30"),
                d("2023-09-30"),
                d("2023-12-31")
            ]
        );
        assert_eq!(
            quarter_ends(d("2023-12-31"), d("2024-03-31")),
            [d("2023-12-31")]
        );
        assert!(quarter_ends(d("2024-05-01"), d("2024-05-02")).is_empty());
    }
}
