use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A calendar date in the knowledge base. Written either as a TOML date (`as_of = 2026-11-28`)
/// or as a string (`as_of = "2026-11-28"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KbDate(pub NaiveDate);

impl KbDate {
    pub fn parse(s: &str) -> Result<Self, String> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(KbDate)
            .map_err(|e| format!("`{s}` is not a date (YYYY-MM-DD): {e}"))
    }
}

impl fmt::Display for KbDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl From<NaiveDate> for KbDate {
    fn from(d: NaiveDate) -> Self {
        KbDate(d)
    }
}

impl<'de> Deserialize<'de> for KbDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Toml(toml::value::Datetime),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Toml(dt) => match (dt.date, dt.time) {
                (Some(date), None) => date.to_string(),
                _ => return Err(serde::de::Error::custom("expected a date without a time")),
            },
            Raw::Text(s) => s,
        };
        KbDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for KbDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
