//! JSON Lines from `camtrace scan` / `camtrace identify`: each line is an observation (it has a
//! `kind`) or an identification (it has `device_class`), in the formats of
//! `docs/observation-format.md`.

use crate::{IngestError, RowError};
use camtrace_model::{Identification, Observation, ObservationKind, MAX_OBSERVATION_LINE};
use std::io::BufRead;

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Observation(Observation),
    Identification(Identification),
}

/// Streams the items of a JSON Lines file; blank lines are skipped, every error names its line.
/// Observations of a kind this version does not know are skipped and counted in
/// [`Reader::unknown_kinds`].
pub struct Reader<R> {
    input: R,
    line: usize,
    buf: Vec<u8>,
    pub unknown_kinds: u64,
}

pub fn read<R: BufRead>(input: R) -> Reader<R> {
    Reader {
        input,
        line: 0,
        buf: Vec::new(),
        unknown_kinds: 0,
    }
}

impl<R: BufRead> Reader<R> {
    fn next_line(&mut self) -> Option<Result<String, IngestError>> {
        self.buf.clear();
        // Read at most one byte past the cap so an over-long line is detected, not buffered.
        let mut limited = std::io::Read::take(&mut self.input, MAX_OBSERVATION_LINE as u64 + 1);
        match limited.read_until(b'\n', &mut self.buf) {
            Ok(0) => None,
            Ok(_) => {
                self.line += 1;
                if self.buf.len() > MAX_OBSERVATION_LINE && !self.buf.ends_with(b"\n") {
                    // Discard the rest of the line, a bounded chunk at a time.
                    loop {
                        self.buf.clear();
                        let mut rest = std::io::Read::take(&mut self.input, 64 * 1024);
                        match rest.read_until(b'\n', &mut self.buf) {
                            Ok(0) => break,
                            Ok(_) if self.buf.ends_with(b"\n") => break,
                            Ok(_) => continue,
                            Err(e) => return Some(Err(e.into())),
                        }
                    }
                    return Some(Err(RowError::new(
                        format!("line {}", self.line),
                        format!("longer than {MAX_OBSERVATION_LINE} bytes"),
                    )
                    .into()));
                }
                match std::str::from_utf8(&self.buf) {
                    Ok(s) => Some(Ok(s.trim().to_string())),
                    Err(e) => Some(Err(RowError::new(
                        format!("line {}", self.line),
                        format!("not UTF-8: {e}"),
                    )
                    .into())),
                }
            }
            Err(e) => Some(Err(e.into())),
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Item, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.is_empty() {
                continue;
            }
            // A well-formed observation (nearly every line of a scan or an agent's batch) parses
            // straight into its type: one parse instead of a `Value` and then the type. Any other
            // line takes the path below, whose answers (and errors) are as they always were.
            if line.len() <= MAX_OBSERVATION_LINE {
                if let Ok(o) = serde_json::from_str::<Observation>(&line) {
                    if o.kind == ObservationKind::Unknown {
                        self.unknown_kinds += 1;
                        continue;
                    }
                    return Some(Ok(Item::Observation(o)));
                }
            }
            let loc = format!("line {}", self.line);
            let value: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => return Some(Err(RowError::new(loc, format!("not JSON: {e}")).into())),
            };
            if value.get("kind").is_some() {
                return match Observation::from_json_line(&line) {
                    Ok(o) if o.kind == ObservationKind::Unknown => {
                        self.unknown_kinds += 1;
                        continue;
                    }
                    Ok(o) => Some(Ok(Item::Observation(o))),
                    Err(e) => Some(Err(RowError::new(loc, e.to_string()).into())),
                };
            }
            if value.get("device_class").is_some() || value.get("evidence").is_some() {
                return match serde_json::from_value::<Identification>(value) {
                    Ok(i) => Some(Ok(Item::Identification(i))),
                    Err(e) => Some(Err(
                        RowError::new(loc, format!("identification: {e}")).into()
                    )),
                };
            }
            return Some(Err(RowError::new(
                loc,
                "neither an observation (no `kind`) nor an identification (no `device_class`)",
            )
            .into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_observations_and_identifications() {
        let text = "{\"target\":\"192.0.2.1\",\"kind\":\"mac\",\"mac\":\"44:19:b6:00:00:01\"}\n\n\
            {\"target\":\"192.0.2.1\",\"brand\":null,\"maker\":null,\"device_class\":\"camera\",\"confidence\":0.5,\"evidence\":[]}\n\
            {\"target\":\"192.0.2.1\",\"kind\":\"lorawan\"}\n\
            {\"target\":\"192.0.2.1\",\"kind\":\"http\",\"port\":\"x\"}\n";
        let mut r = read(text.as_bytes());
        assert!(matches!(r.next(), Some(Ok(Item::Observation(_)))));
        assert!(matches!(r.next(), Some(Ok(Item::Identification(_)))));
        let e = r.next().unwrap().unwrap_err().to_string();
        assert!(e.starts_with("line 5"), "{e}");
        assert!(r.next().is_none());
        assert_eq!(r.unknown_kinds, 1);
    }

    /// What a line gave before observations took the one-parse path: through a `Value` first.
    fn through_value(line: &str) -> Result<Option<Item>, String> {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        if value.get("kind").is_some() {
            return match Observation::from_json_line(line) {
                Ok(o) if o.kind == ObservationKind::Unknown => Ok(None),
                Ok(o) => Ok(Some(Item::Observation(o))),
                Err(e) => Err(e.to_string()),
            };
        }
        if value.get("device_class").is_some() || value.get("evidence").is_some() {
            return serde_json::from_value::<Identification>(value)
                .map(|i| Some(Item::Identification(i)))
                .map_err(|e| format!("identification: {e}"));
        }
        Err("neither".into())
    }

    fn as_text(r: &Result<Option<Item>, String>) -> String {
        match r {
            Ok(Some(Item::Observation(o))) => format!("obs {}", serde_json::to_string(o).unwrap()),
            Ok(Some(Item::Identification(i))) => {
                format!("id {}", serde_json::to_string(i).unwrap())
            }
            Ok(None) => "unknown kind".into(),
            Err(e) => format!("error {e}"),
        }
    }

    proptest::proptest! {
        /// Lines assembled from the keys and values observations use (duplicates, wrong types,
        /// unknown kinds, missing fields, identifications) give what they gave through a `Value`.
        #[test]
        fn one_parse_gives_what_the_value_path_gave(
            fields in proptest::collection::vec((0usize..9, 0usize..9), 0..7)
        ) {
            let keys = ["target", "kind", "kind", "port", "banner", "mac", "time", "device_class", "evidence"];
            let values = [
                "\"127.0.0.1\"", "\"http\"", "\"mac\"", "\"lorawan\"", "80", "\"x\"",
                "null", "[]", "\"44:19:b6:00:00:01\"",
            ];
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{}\":{}", keys[*k], values[*v]))
                .collect();
            let line = format!("{{{}}}", body.join(","));
            let want = through_value(&line);
            let text = format!("{line}\n");
            let mut r = read(text.as_bytes());
            let got = match r.next() {
                None => Ok(None),
                Some(Ok(item)) => Ok(Some(item)),
                Some(Err(e)) => Err(e.to_string()),
            };
            match (&want, &got) {
                // Errors carry the line number now; compare what follows it.
                (Err(w), Err(g)) => proptest::prop_assert!(
                    w == "neither" && g.contains("neither an observation") || g.ends_with(w.as_str()),
                    "{} / {}", w, g
                ),
                _ => proptest::prop_assert_eq!(as_text(&want), as_text(&got), "{}", line),
            }
            if matches!(want, Ok(None)) {
                proptest::prop_assert_eq!(r.unknown_kinds, 1);
            }
        }
    }

    #[test]
    fn over_long_lines_are_refused() {
        let long = format!(
            "{{\"target\":\"{}\"}}\n",
            "a".repeat(MAX_OBSERVATION_LINE + 10)
        );
        let e = read(long.as_bytes())
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than"), "{e}");
    }
}
