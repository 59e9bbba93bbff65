//! recog fingerprints and component tells as signatures of the engine.
//!
//! recog patterns are written for Ruby's regular-expression engine. [`translate`] rewrites one
//! into Rust `regex` syntax with the same meaning: Ruby's `^` and `$` are always line anchors
//! (`(?m)`), `REG_ICASE` is `(?i)`, `REG_MULTILINE` / `REG_DOT_NEWLINE` / `REG_LINE_ANY_CRLF` let
//! `.` match a newline (`(?s)`, Ruby's `Regexp::MULTILINE`), `\d \w \s \h` are ASCII classes and
//! `\Z` is "end, before a final newline". A pattern that `regex` cannot compile (look-around,
//! back-references, atomic groups) is compiled with `fancy-regex`; one that neither can compile
//! is listed in [`crate::Engine::recog_report`], never dropped silently.

use camtrace_kb::recog::{RecogDatabase, RecogFingerprint, RECOG_VENDOR_PARAMS};
use camtrace_kb::{KbDate, Recog, Signature};

/// Translate a recog (Ruby) pattern and its flags into Rust regex syntax.
pub fn translate(pattern: &str, flags: &[String]) -> String {
    let mut inline = String::from("m");
    if flags.iter().any(|f| f == "REG_ICASE") {
        inline.push('i');
    }
    if flags.iter().any(|f| {
        matches!(
            f.as_str(),
            "REG_MULTILINE" | "REG_DOT_NEWLINE" | "REG_LINE_ANY_CRLF"
        )
    }) {
        inline.push('s');
    }
    let mut out = format!("(?{inline})");
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let rep: Option<&str> = match (n, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('d', true) => Some("0-9"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\x0B\\x0C\\r ]"),
                    ('s', true) => Some("\\t\\n\\x0B\\x0C\\r "),
                    ('S', false) => Some("[^\\t\\n\\x0B\\x0C\\r ]"),
                    ('h', false) => Some("[0-9A-Fa-f]"),
                    ('h', true) => Some("0-9A-Fa-f"),
                    ('H', false) => Some("[^0-9A-Fa-f]"),
                    ('Z', false) => Some("(?:\\n?\\z)"),
                    // ASCII word boundaries keep the lazy DFA usable for the whole set.
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    _ => None,
                };
                match rep {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` or `^]` right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class => {
                // Ruby allows nested sets (`[a[b]]`) and POSIX classes (`[[:alpha:]]`); Rust
                // accepts both forms, but a bare `[` in a class must be escaped.
                if chars.peek() == Some(&':') {
                    out.push('[');
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// What a recog fingerprint proves to camtrace, resolved through the mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecogClaims {
    pub maker: Option<String>,
    pub brand: Option<String>,
    pub class: Option<String>,
    /// (company, role) of a component maker named by the fingerprint.
    pub component: Option<(String, String)>,
    /// Capture group of the model (`hw.product`, `hw.model`).
    pub model_group: Option<usize>,
    /// Capture group of the firmware version (`hw.version`, or `os.version` when the OS vendor
    /// is the maker).
    pub firmware_group: Option<usize>,
    /// The recog vendor name that gave the maker or brand.
    pub vendor_name: Option<String>,
    pub device: Option<String>,
}

impl RecogClaims {
    pub fn proves_anything(&self) -> bool {
        self.maker.is_some()
            || self.brand.is_some()
            || self.class.is_some()
            || self.component.is_some()
    }
}

/// Resolve a fingerprint's vendor and device params through the mapping.
pub fn claims(recog: &Recog, fp: &RecogFingerprint) -> RecogClaims {
    let mut c = RecogClaims {
        device: fp.device(),
        ..Default::default()
    };
    let device = c.device.clone();
    if let Some(d) = device.as_deref().and_then(|d| recog.device_class(d)) {
        c.class = Some(d.class.clone());
    }
    let mut os_maker = None;
    for p in RECOG_VENDOR_PARAMS {
        let Some(name) = fp.fixed(p) else { continue };
        let Some((_, v)) = recog.vendor(&name, device.as_deref()) else {
            continue;
        };
        if let Some(comp) = &v.component {
            if c.component.is_none() {
                c.component = Some((
                    comp.clone(),
                    v.role.clone().unwrap_or_else(|| "part".into()),
                ));
            }
            continue;
        }
        if p == "os.vendor" {
            os_maker = v.company.clone();
        }
        if c.maker.is_none() && c.brand.is_none() {
            c.maker = v.company.clone();
            c.brand = v.brand.clone();
            c.vendor_name = Some(name);
        }
    }
    let group = |name: &str| fp.param(name).filter(|p| p.pos > 0).map(|p| p.pos);
    if c.maker.is_some() || c.brand.is_some() {
        c.model_group = group("hw.product").or_else(|| group("hw.model"));
        c.firmware_group = group("hw.version").or_else(|| {
            (os_maker.is_some() && os_maker == c.maker)
                .then(|| group("os.version"))
                .flatten()
        });
    }
    c
}

/// A recog fingerprint as an engine signature (the pattern translated to Rust syntax).
pub fn signature(
    recog: &Recog,
    db: &RecogDatabase,
    fp: &RecogFingerprint,
    c: &RecogClaims,
) -> Signature {
    let stem = db.file.trim_end_matches(".xml");
    let as_of = recog.source.as_of.unwrap_or(db.map.as_of);
    let mut shown = fp.pattern.clone();
    if shown.len() > 160 {
        let end = crate::parse::http_floor(&shown, 160);
        shown.truncate(end);
        shown.push('…');
    }
    let description = if fp.description.is_empty() {
        "(no description)".to_string()
    } else {
        fp.description.clone()
    };
    Signature {
        id: format!("recog:{stem}:{}", fp.line),
        kind: db.map.kind.clone(),
        field: db.map.field.clone(),
        pattern: translate(&fp.pattern, &fp.flags),
        case_insensitive: false,
        maker: c.maker.clone(),
        brand: c.brand.clone(),
        firmware_family: None,
        class: c.class.clone(),
        call_home: None,
        strength: db.map.strength,
        note: Some(description.clone()),
        unverified: false,
        unverified_fields: Vec::new(),
        source_kind: None,
        source: format!(
            "rapid7/recog @{} {}: {} (pattern `{}`{})",
            recog.short_commit(),
            db.file,
            description,
            shown,
            if fp.flags.is_empty() {
                String::new()
            } else {
                format!(", {}", fp.flags.join(","))
            }
        ),
        as_of: KbDate(as_of.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_anchors_are_line_anchors_and_classes_are_ascii() {
        let t = translate(r"^Server (\d+)\s\h+\Z", &[]);
        assert_eq!(
            t,
            "(?m)^Server ([0-9]+)[\\t\\n\\x0B\\x0C\\r ][0-9A-Fa-f]+(?:\\n?\\z)"
        );
        let re = regex::Regex::new(&t).unwrap();
        assert!(re.is_match("banner\nServer 12 ab\n"));
        assert!(!re.is_match("Server ٣ ab"), "\\d is ASCII as in Ruby");
    }

    #[test]
    fn flags_become_inline_flags() {
        let f = |s: &str| vec![s.to_string()];
        assert!(translate("a.b", &f("REG_ICASE")).starts_with("(?mi)"));
        let t = translate("a.b", &f("REG_DOT_NEWLINE"));
        assert!(regex::Regex::new(&t).unwrap().is_match("a\nb"));
        let t = translate("a.b", &f("REG_MULTILINE"));
        assert!(regex::Regex::new(&t).unwrap().is_match("a\nb"));
        assert!(!regex::Regex::new(&translate("a.b", &[]))
            .unwrap()
            .is_match("a\nb"));
    }

    #[test]
    fn classes_keep_their_meaning() {
        let t = translate(r"^[\d\.]+[^\]x][]a]$", &[]);
        let re = regex::Regex::new(&t).unwrap();
        assert!(re.is_match("1.2y]"));
        assert!(re.is_match("1.2ya"));
        assert!(!re.is_match("1.2]a"));
    }
}
