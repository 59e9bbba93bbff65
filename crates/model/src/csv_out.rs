//! The one CSV writer of the workspace: RFC 4180 quoting plus spreadsheet-formula
//! neutralisation. Every CSV that camtrace writes (findings, plans, reports, registers, sites,
//! history, waivers, the server's exports) goes through [`record`], so a device name, a note or a
//! user name that a device or a person supplied can never run as a formula when an operator
//! opens the file in a spreadsheet.
//!
//! Rules, in this order, for each cell:
//! 1. **Neutralise** ([`neutralise`]): a cell whose first character, after any leading `'`, is
//!    one of `=` `+` `-` `@`, tab, carriage return or NUL gets one leading `'` (the OWASP "CSV
//!    injection" guidance and OWASP ASVS 5.0 requirement 1.2.10: such cells must be escaped
//!    with a single quote). A plain decimal number (`-12`, `+3.5`) is left as it is: a
//!    spreadsheet reads it as a number and it cannot call anything. Counting the leading `'`s
//!    makes the rule reversible: [`restore`] undoes it exactly, so a register written by
//!    `camtrace devices --format csv` imports back unchanged.
//! 2. **Quote** (RFC 4180 section 2, rules 6 and 7): a cell containing `,`, `"`, CR or LF is
//!    enclosed in double quotes, and each `"` inside it is doubled.
//!
//! Records end with LF (`\n`), which every CSV reader in use accepts.

use std::borrow::Cow;

/// First characters that make a spreadsheet read a cell as a formula (or that some
/// spreadsheets strip before doing so).
const TRIGGERS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\0'];

/// `-12`, `+3.5`, `7`: an optional sign, digits, and an optional fraction.
fn plain_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether [`neutralise`] prefixes this cell.
fn needs_prefix(cell: &str) -> bool {
    !plain_number(cell) && cell.trim_start_matches('\'').starts_with(TRIGGERS)
}

/// The cell with one leading `'` when a spreadsheet would read it as a formula (see the module
/// documentation); otherwise unchanged.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_prefix(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The inverse of [`neutralise`], for readers of files camtrace wrote: drops the one `'` that
/// [`neutralise`] added, and nothing else.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_prefix(rest) => rest,
        _ => cell,
    }
}

/// RFC 4180 quoting of one (already neutralised) cell.
fn quote(cell: &str) -> Cow<'_, str> {
    if cell.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", cell.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(cell)
    }
}

/// One cell as it goes into a file: neutralised, then quoted.
pub fn field(cell: &str) -> String {
    quote(&neutralise(cell)).into_owned()
}

/// One record: every cell neutralised and quoted, joined by `,`, ending with `\n`.
pub fn record<I, S>(cells: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    push_record(&mut out, cells);
    out
}

/// Append one record (see [`record`]) to `out`.
pub fn push_record<I, S>(out: &mut String, cells: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(&neutralise(c.as_ref())));
    }
    out.push('\n');
}

/// A whole CSV document: a header and rows, each through [`push_record`].
#[derive(Debug, Clone, Default)]
pub struct Table {
    text: String,
}

impl Table {
    /// A table starting with this header record.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut t = Self::default();
        t.row(header);
        t
    }

    /// Append one record.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        push_record(&mut self.text, cells);
    }

    /// The document text.
    pub fn into_string(self) -> String {
        self.text
    }

    /// The document text so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_get_one_leading_quote() {
        for c in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "@SUM(A1:A2)",
            "+1+2",
            "-1+2",
            "\tx",
            "\rx",
            "\0x",
            "-",
            "-inf",
        ] {
            assert_eq!(neutralise(c), format!("'{c}"), "{c:?}");
        }
        for c in [
            "", "hq", "camera 1", "'", "12", "-12", "+3.5", "0.25", "a=b",
        ] {
            assert_eq!(neutralise(c), c, "{c:?}");
        }
    }

    #[test]
    fn restore_inverts_neutralise_exactly() {
        for c in [
            "", "=x", "'=x", "''=x", "'", "''", "'abc", "-5", "'-5", "-5x", "@", "'@", "plain",
        ] {
            assert_eq!(restore(&neutralise(c)), c, "{c:?}");
        }
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(
            record(["a", "b,c", "say \"hi\"", "two\nlines", "cr\r"]),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\"\n"
        );
        // Neutralised and quoted: the quote character goes inside the double quotes.
        assert_eq!(field("=A1,B1"), "\"'=A1,B1\"");
        let mut t = Table::new(["h1", "h2"]);
        t.row(["@x", "y"]);
        assert_eq!(t.into_string(), "h1,h2\n'@x,y\n");
    }
}
