use crate::{KbError, KbErrors};
use include_dir::{include_dir, Dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../kb");

/// Largest knowledge-base file accepted from an overlay directory.
pub const MAX_KB_FILE: u64 = 16 << 20;

/// Where a knowledge-base file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    Overlay(PathBuf),
}

/// One knowledge-base file: its path relative to the `kb/` root (`/` separators) and its text.
#[derive(Debug, Clone)]
pub struct KbFile {
    pub path: String,
    pub origin: Origin,
    pub text: String,
}

impl KbFile {
    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = offset
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        (line, col)
    }

    /// A path for messages: `kb/<path>` for embedded files, the real path for overlays.
    pub fn display_path(&self) -> String {
        match &self.origin {
            Origin::Embedded => format!("kb/{}", self.path),
            Origin::Overlay(p) => p.display().to_string(),
        }
    }
}

/// The set of knowledge-base files: the embedded ones, possibly overlaid by a directory.
#[derive(Debug, Clone, Default)]
pub struct KbFiles {
    files: BTreeMap<String, KbFile>,
}

impl KbFiles {
    /// The knowledge base compiled into this binary.
    pub fn embedded() -> Self {
        let mut files = BTreeMap::new();
        collect(&EMBEDDED, &mut files);
        Self { files }
    }

    /// The embedded files overlaid by the TOML files under `dir`.
    pub fn with_overlay(dir: &Path) -> Result<Self, KbErrors> {
        let mut kb = Self::embedded();
        kb.overlay(dir)?;
        Ok(kb)
    }

    /// Only the files under `dir` (no embedded data): for tests and for fully custom bases.
    pub fn from_dir(dir: &Path) -> Result<Self, KbErrors> {
        let mut kb = Self::default();
        kb.overlay(dir)?;
        Ok(kb)
    }

    /// Add or replace files from `dir` (recursively, `*.toml`, and `*.xml` recog databases).
    pub fn overlay(&mut self, dir: &Path) -> Result<(), KbErrors> {
        let mut errors = KbErrors::default();
        if !dir.is_dir() {
            errors.push(KbError::new(
                &dir.display().to_string(),
                0,
                0,
                "knowledge-base override is not a directory",
            ));
            return Err(errors);
        }
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) => {
                    errors.push(KbError::new(&d.display().to_string(), 0, 0, e.to_string()));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if !matches!(p.extension().and_then(|e| e.to_str()), Some("toml" | "xml")) {
                    continue;
                }
                let shown = p.display().to_string();
                match std::fs::metadata(&p) {
                    Ok(m) if m.len() > MAX_KB_FILE => {
                        errors.push(KbError::new(
                            &shown,
                            0,
                            0,
                            format!("file is larger than {MAX_KB_FILE} bytes"),
                        ));
                        continue;
                    }
                    Err(e) => {
                        errors.push(KbError::new(&shown, 0, 0, e.to_string()));
                        continue;
                    }
                    _ => {}
                }
                match std::fs::read_to_string(&p) {
                    Ok(text) => {
                        let rel = p
                            .strip_prefix(dir)
                            .unwrap_or(&p)
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join("/");
                        self.files.insert(
                            rel.clone(),
                            KbFile {
                                path: rel,
                                origin: Origin::Overlay(p.clone()),
                                text,
                            },
                        );
                    }
                    Err(e) => errors.push(KbError::new(&shown, 0, 0, format!("cannot read: {e}"))),
                }
            }
        }
        errors.into_result(())
    }

    /// Files whose relative path starts with `prefix` (e.g. `"policies/"`), in path order.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a KbFile> + 'a {
        self.files
            .values()
            .filter(move |f| f.path.starts_with(prefix) && f.path.ends_with(".toml"))
    }

    pub fn get(&self, path: &str) -> Option<&KbFile> {
        self.files.get(path)
    }

    pub fn all(&self) -> impl Iterator<Item = &KbFile> {
        self.files.values()
    }

    /// Insert a file directly (tests, generated data).
    pub fn insert(&mut self, path: &str, text: impl Into<String>) {
        self.files.insert(
            path.to_string(),
            KbFile {
                path: path.to_string(),
                origin: Origin::Overlay(PathBuf::from(path)),
                text: text.into(),
            },
        );
    }

    /// The knowledge-base version: `version` in `kb/VERSION.toml`, plus `+local` when any file
    /// comes from an overlay.
    pub fn version(&self) -> String {
        #[derive(serde::Deserialize)]
        struct V {
            version: String,
        }
        let base = self
            .get("VERSION.toml")
            .and_then(|f| toml::from_str::<V>(&f.text).ok())
            .map(|v| v.version)
            .unwrap_or_else(|| "unversioned".into());
        if self.files.values().any(|f| f.origin != Origin::Embedded) {
            format!("{base}+local")
        } else {
            base
        }
    }
}

fn collect(dir: &Dir<'static>, out: &mut BTreeMap<String, KbFile>) {
    for f in dir.files() {
        let path = f.path().to_string_lossy().replace('\\', "/");
        if !path.ends_with(".toml") && !path.ends_with(".xml") {
            continue;
        }
        if let Some(text) = f.contents_utf8() {
            out.insert(
                path.clone(),
                KbFile {
                    path,
                    origin: Origin::Embedded,
                    text: text.to_string(),
                },
            );
        }
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}
