//! Which importer a file needs: by its first bytes, then by its extension.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Json,
    Nmap,
    Pcap,
    /// JSON Lines from `camtrace scan` / `camtrace identify` (observations and/or identifications).
    Scan,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Nmap => "nmap",
            Self::Pcap => "pcap",
            Self::Scan => "scan",
        }
    }
}

const PCAP_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a], // pcapng section header block
];

/// Guess the kind from the first bytes of the file (`head`, a few KiB) and its name.
pub fn detect(path: &Path, head: &[u8]) -> Option<FileKind> {
    if head.len() >= 4 && PCAP_MAGICS.iter().any(|m| head[..4] == m[..]) {
        return Some(FileKind::Pcap);
    }
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if (t.starts_with("<?xml") || t.starts_with("<nmaprun") || t.starts_with("<!DOCTYPE nmaprun"))
        && (t.contains("<nmaprun") || t.contains("nmap"))
    {
        return Some(FileKind::Nmap);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pcap" | "pcapng" | "cap" => return Some(FileKind::Pcap),
        "xml" => return Some(FileKind::Nmap),
        "csv" => return Some(FileKind::Csv),
        "jsonl" | "ndjson" => return Some(FileKind::Scan),
        _ => {}
    }
    if t.starts_with('{') {
        // One object per line (JSON Lines) or one document?
        let first_line = t.lines().next().unwrap_or("");
        if serde_json::from_str::<serde_json::Value>(first_line).is_ok() && t.lines().count() > 1 {
            let v: serde_json::Value = serde_json::from_str(first_line).unwrap_or_default();
            if v.get("target").is_some() {
                return Some(FileKind::Scan);
            }
        }
        return Some(FileKind::Json);
    }
    if t.starts_with('[') || ext == "json" {
        return Some(FileKind::Json);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_then_extension() {
        let p = Path::new("x.bin");
        assert_eq!(
            detect(p, &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(FileKind::Pcap)
        );
        assert_eq!(
            detect(p, &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]),
            Some(FileKind::Pcap)
        );
        assert_eq!(
            detect(p, b"<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun>\n<nmaprun"),
            Some(FileKind::Nmap)
        );
        assert_eq!(
            detect(
                p,
                b"{\"target\":\"a\",\"kind\":\"mac\",\"mac\":\"x\"}\n{\"target\":\"b\"}\n"
            ),
            Some(FileKind::Scan)
        );
        assert_eq!(detect(p, b"{\"devices\":[]}"), Some(FileKind::Json));
        assert_eq!(
            detect(Path::new("r.csv"), b"site,device\n"),
            Some(FileKind::Csv)
        );
        assert_eq!(detect(p, b"hello"), None);
    }
}
