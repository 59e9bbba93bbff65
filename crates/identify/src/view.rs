//! A resolved identification that borrows its text from the engine's tables and the stream's
//! strings: what the resolver builds, turned into an owned [`Identification`] (the API) or
//! written straight out as JSON (`camtrace identify --format json`) without building one. The
//! JSON is byte-for-byte what `serde_json` writes for the owned identification (tested).

use camtrace_model::{Component, DeviceClass, Evidence, Identification, NamedRef};
use chrono::NaiveDate;
use std::borrow::Cow;

/// Text of an evidence field: borrowed, owned, or the concatenation of up to four borrowed
/// parts (`Server` + `: ` + excerpt), so that most evidence costs no allocation.
#[derive(Debug, Clone)]
pub(crate) enum Text<'a> {
    Str(&'a str),
    Own(String),
    Cat([&'a str; 4]),
}

impl<'a> Text<'a> {
    pub fn cat2(a: &'a str, b: &'a str) -> Self {
        Text::Cat([a, b, "", ""])
    }

    pub fn to_owned_string(&self) -> String {
        match self {
            Text::Str(s) => (*s).to_string(),
            Text::Own(s) => s.clone(),
            Text::Cat(p) => {
                let mut s = String::with_capacity(p.iter().map(|x| x.len()).sum());
                p.iter().for_each(|x| s.push_str(x));
                s
            }
        }
    }

    pub fn ends_with(&self, suffix: &str) -> bool {
        match self {
            Text::Str(s) => s.ends_with(suffix),
            Text::Own(s) => s.ends_with(suffix),
            Text::Cat(_) => self.to_owned_string().ends_with(suffix),
        }
    }

    fn json(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        match self {
            Text::Str(s) => escape(s, out),
            Text::Own(s) => escape(s, out),
            // Escaping works per character, so the parts can be escaped one by one.
            Text::Cat(p) => p.iter().for_each(|s| escape(s, out)),
        }
        out.push(b'"');
    }
}

/// What an evidence line proves, in the order it is listed (at most seven names).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Proves {
    items: [&'static str; 7],
    len: u8,
}

impl Proves {
    pub fn of(items: &[&'static str]) -> Self {
        let mut p = Proves::default();
        for i in items {
            p.push(i);
        }
        p
    }
    pub fn push(&mut self, s: &'static str) {
        if let Some(slot) = self.items.get_mut(self.len as usize) {
            *slot = s;
            self.len += 1;
        }
    }
    pub fn as_slice(&self) -> &[&'static str] {
        &self.items[..self.len as usize]
    }
}

/// One evidence line, borrowed (see [`Evidence`]).
#[derive(Debug, Clone)]
pub(crate) struct Ev<'a> {
    pub kind: Text<'a>,
    pub detail: Text<'a>,
    pub signature: &'a str,
    pub source: Text<'a>,
    pub proves: Proves,
    pub weight: Option<f64>,
}

impl Ev<'_> {
    fn to_owned_evidence(&self) -> Evidence {
        Evidence {
            kind: self.kind.to_owned_string(),
            detail: self.detail.to_owned_string(),
            signature: self.signature.to_string(),
            source: self.source.to_owned_string(),
            proves: self
                .proves
                .as_slice()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            weight: self.weight,
        }
    }

    fn json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"kind\":");
        self.kind.json(out);
        out.extend_from_slice(b",\"detail\":");
        self.detail.json(out);
        out.extend_from_slice(b",\"signature\":");
        string(self.signature, out);
        out.extend_from_slice(b",\"source\":");
        self.source.json(out);
        if self.proves.len > 0 {
            out.extend_from_slice(b",\"proves\":[");
            for (i, p) in self.proves.as_slice().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(p, out);
            }
            out.push(b']');
        }
        if let Some(w) = self.weight {
            out.extend_from_slice(b",\"weight\":");
            float(w, out);
        }
        out.push(b'}');
    }
}

/// A company or brand reference, borrowed.
pub(crate) type Ref<'a> = (Cow<'a, str>, Cow<'a, str>);

fn named(r: &Ref<'_>) -> NamedRef {
    NamedRef::new(r.0.as_ref(), r.1.as_ref())
}

fn named_json(r: &Ref<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    string(&r.0, out);
    out.extend_from_slice(b",\"name\":");
    string(&r.1, out);
    out.push(b'}');
}

/// A component claim, its evidence as indexes into the view's evidence (in claim order).
#[derive(Debug, Clone)]
pub(crate) struct CompView<'a> {
    pub role: &'a str,
    pub company: Ref<'a>,
    pub parents: Vec<Ref<'a>>,
    pub summary: String,
    pub confidence: f64,
    pub evidence: Vec<usize>,
}

/// A resolved identification, borrowed (see [`Identification`], field for field).
#[derive(Debug, Clone)]
pub(crate) struct View<'a> {
    pub target: &'a str,
    pub brand: Option<Ref<'a>>,
    pub maker: Option<Ref<'a>>,
    pub model: Option<&'a str>,
    pub firmware: Option<&'a str>,
    pub device_class: DeviceClass,
    pub confidence: f64,
    pub mac: Option<String>,
    pub call_home: Vec<&'a str>,
    pub conflicts: Vec<String>,
    /// Evidence in the order it was found; `order` lists it as reported (strongest first).
    pub evidence: Vec<Ev<'a>>,
    pub order: Vec<usize>,
    pub components: Vec<CompView<'a>>,
    pub could_be: Vec<Ref<'a>>,
    pub maker_from_brand: bool,
    pub first_seen: Option<NaiveDate>,
}

impl View<'_> {
    pub fn to_identification(&self) -> Identification {
        let mut id = Identification::unknown(self.target);
        id.brand = self.brand.as_ref().map(named);
        id.maker = self.maker.as_ref().map(named);
        id.model = self.model.map(str::to_string);
        id.firmware = self.firmware.map(str::to_string);
        id.device_class = self.device_class;
        id.confidence = self.confidence;
        id.mac.clone_from(&self.mac);
        id.call_home = self.call_home.iter().map(|s| s.to_string()).collect();
        id.conflicts.clone_from(&self.conflicts);
        id.evidence = self
            .order
            .iter()
            .map(|&i| self.evidence[i].to_owned_evidence())
            .collect();
        id.components = self
            .components
            .iter()
            .map(|c| Component {
                role: c.role.to_string(),
                company: named(&c.company),
                parents: c.parents.iter().map(named).collect(),
                summary: c.summary.clone(),
                confidence: c.confidence,
                evidence: c
                    .evidence
                    .iter()
                    .map(|&i| self.evidence[i].to_owned_evidence())
                    .collect(),
            })
            .collect();
        id.could_be = self.could_be.iter().map(named).collect();
        id.maker_from_brand = self.maker_from_brand;
        id.first_seen = self.first_seen;
        id
    }

    /// Append the identification as one line of compact JSON (no newline): the bytes
    /// `serde_json::to_writer` writes for [`View::to_identification`].
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let opt_ref = |r: &Option<Ref<'_>>, out: &mut Vec<u8>| match r {
            Some(r) => named_json(r, out),
            None => out.extend_from_slice(b"null"),
        };
        let opt_str = |s: Option<&str>, out: &mut Vec<u8>| match s {
            Some(s) => string(s, out),
            None => out.extend_from_slice(b"null"),
        };
        out.extend_from_slice(b"{\"target\":");
        string(self.target, out);
        out.extend_from_slice(b",\"brand\":");
        opt_ref(&self.brand, out);
        out.extend_from_slice(b",\"maker\":");
        opt_ref(&self.maker, out);
        out.extend_from_slice(b",\"model\":");
        opt_str(self.model, out);
        out.extend_from_slice(b",\"firmware\":");
        opt_str(self.firmware, out);
        out.extend_from_slice(b",\"device_class\":");
        string(self.device_class.as_str(), out);
        out.extend_from_slice(b",\"confidence\":");
        float(self.confidence, out);
        if let Some(m) = &self.mac {
            out.extend_from_slice(b",\"mac\":");
            string(m, out);
        }
        if !self.call_home.is_empty() {
            out.extend_from_slice(b",\"call_home\":");
            list(&self.call_home, out, |s, out| string(s, out));
        }
        if !self.conflicts.is_empty() {
            out.extend_from_slice(b",\"conflicts\":");
            list(&self.conflicts, out, |s, out| string(s, out));
        }
        out.extend_from_slice(b",\"evidence\":");
        list(&self.order, out, |&i, out| self.evidence[i].json(out));
        if !self.components.is_empty() {
            out.extend_from_slice(b",\"components\":");
            list(&self.components, out, |c, out| {
                out.extend_from_slice(b"{\"role\":");
                string(c.role, out);
                out.extend_from_slice(b",\"company\":");
                named_json(&c.company, out);
                if !c.parents.is_empty() {
                    out.extend_from_slice(b",\"parents\":");
                    list(&c.parents, out, named_json);
                }
                out.extend_from_slice(b",\"summary\":");
                string(&c.summary, out);
                out.extend_from_slice(b",\"confidence\":");
                float(c.confidence, out);
                out.extend_from_slice(b",\"evidence\":");
                list(&c.evidence, out, |&i, out| self.evidence[i].json(out));
                out.push(b'}');
            });
        }
        if !self.could_be.is_empty() {
            out.extend_from_slice(b",\"could_be\":");
            list(&self.could_be, out, named_json);
        }
        if self.maker_from_brand {
            out.extend_from_slice(b",\"maker_from_brand\":true");
        }
        if let Some(d) = self.first_seen {
            use std::io::Write;
            out.extend_from_slice(b",\"first_seen\":\"");
            let _ = write!(out, "{d}");
            out.push(b'"');
        }
        out.push(b'}');
    }
}

fn list<T>(items: &[T], out: &mut Vec<u8>, mut each: impl FnMut(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(x, out);
    }
    out.push(b']');
}

/// A number as `serde_json` writes it (non-finite numbers as `null`).
fn float(v: f64, out: &mut Vec<u8>) {
    use serde_json::ser::Formatter;
    if v.is_finite() {
        let _ = serde_json::ser::CompactFormatter.write_f64(out, v);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape(s, out);
    out.push(b'"');
}

/// Bytes `serde_json` escapes: control characters, `"` and `\`.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any of the eight bytes of `w` needs escaping (SWAR: a byte below 0x20, or equal to
/// `"` or `\`).
#[inline]
fn any_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Nonzero when some byte of `x` is below `n` (n ≤ 0x80).
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    (below(w, 0x20) | below(w ^ (ONES * b'"' as u64), 1) | below(w ^ (ONES * b'\\' as u64), 1)) != 0
}

/// The contents of a JSON string, escaped as `serde_json` escapes them: `\"`, `\\`, `\b`, `\f`,
/// `\n`, `\r`, `\t`, other control characters as `\u00xx` (lower-case hex); everything else,
/// non-ASCII included, as is. Runs of eight bytes that need nothing are skipped at once.
pub(crate) fn escape(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if !any_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if !needs_escape(b) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_serde_json() {
        let mut all = String::new();
        for c in (0u32..0x300).chain([0x2028, 0x2029, 0xfeff, 0x1f600]) {
            all.extend(char::from_u32(c));
        }
        let mut mixed = Vec::new();
        for b in [0u8, 1, 8, 9, 10, 12, 13, 0x1f, b'"', b'\\', 0x20, 0x7f] {
            for pos in 0..20 {
                let mut t = "abcdefghijklmnopqrs".to_string();
                t.insert(pos, b as char);
                mixed.push(t);
            }
        }
        let all_strs = ["", "plain", "a\"b\\c", "\u{7f}", "é…", all.as_str()];
        for s in all_strs
            .iter()
            .copied()
            .chain(mixed.iter().map(String::as_str))
        {
            let mut out = Vec::new();
            string(s, &mut out);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn floats_match_serde_json() {
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            0.45,
            0.99,
            0.65 * 0.9,
            1e-7,
            1e21,
            123456.789,
            f64::NAN,
            f64::INFINITY,
            f64::MIN_POSITIVE,
        ] {
            let mut out = Vec::new();
            float(v, &mut out);
            assert_eq!(out, serde_json::to_vec(&v).unwrap(), "{v}");
        }
    }
}
