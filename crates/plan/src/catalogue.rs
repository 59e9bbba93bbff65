//! The approved alternatives catalogue (`kb/catalogue/*.toml`): a procurement framework of
//! compliant models, extendable or replaceable with the user's `--kb` overlay.

use crate::PlanError;
use camtrace_kb::{parse_toml, KbDate, KbFiles};
use camtrace_model::DeviceClass;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// One approved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    pub id: String,
    /// Knowledge-base company id of the maker.
    pub maker: String,
    /// Knowledge-base brand id.
    pub brand: String,
    pub model: String,
    pub class: DeviceClass,
    /// `dome`, `bullet`, `ptz`, `turret`, `fisheye`, `box`, `software`.
    pub form: String,
    /// Megapixels (0 for software).
    pub resolution_mp: f64,
    /// `indoor` or `outdoor` (outdoor models also serve indoors).
    pub environment: String,
    pub ir: bool,
    /// `low`, `mid`, `high`.
    pub price_band: String,
    /// Regime ids this model satisfies.
    pub satisfies: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Why `source` gives no URL, when it gives none (see [`camtrace_kb::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<camtrace_kb::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
    /// Where it was defined (`kb/catalogue/axis.toml:6`), filled at load.
    #[serde(skip_deserializing, default)]
    pub defined_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default)]
    model: Vec<Spanned<CatalogueEntry>>,
}

pub const FORMS: [&str; 7] = [
    "dome", "bullet", "ptz", "turret", "fisheye", "box", "software",
];

/// What a replacement must match (like-for-like).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Want {
    pub class: DeviceClass,
    pub form: Option<String>,
    /// `indoor` or `outdoor`.
    pub environment: Option<String>,
    pub ir: Option<bool>,
    pub min_resolution_mp: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub entries: Vec<CatalogueEntry>,
}

impl Catalogue {
    /// Load every `catalogue/*.toml` file of the knowledge base (embedded plus overlay).
    pub fn load(files: &KbFiles) -> Result<Self, PlanError> {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for f in files.under("catalogue/") {
            match parse_toml::<CatalogueFile>(f) {
                Ok(cf) => {
                    for e in cf.model {
                        let line = f.line_col(e.span().start).0;
                        let mut entry = e.into_inner();
                        entry.defined_at = format!("{}:{line}", f.display_path());
                        if !FORMS.contains(&entry.form.as_str()) {
                            errors.push(format!(
                                "{}: model `{}`: unknown form `{}` (expected one of {})",
                                entry.defined_at,
                                entry.id,
                                entry.form,
                                FORMS.join(", ")
                            ));
                        }
                        if !matches!(entry.environment.as_str(), "indoor" | "outdoor") {
                            errors.push(format!(
                                "{}: model `{}`: environment must be indoor or outdoor",
                                entry.defined_at, entry.id
                            ));
                        }
                        if entry.source.trim().is_empty() {
                            errors.push(format!(
                                "{}: model `{}`: empty source",
                                entry.defined_at, entry.id
                            ));
                        }
                        entries.push(entry);
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        let mut seen = std::collections::HashMap::new();
        for e in &entries {
            if let Some(prev) = seen.insert(e.id.clone(), e.defined_at.clone()) {
                errors.push(format!(
                    "{}: model id `{}` already defined at {prev}",
                    e.defined_at, e.id
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self { entries })
        } else {
            Err(PlanError::Kb(errors.join("\n")))
        }
    }

    /// Check that every maker and brand exists in the vendor knowledge base.
    pub fn validate_against(&self, kb: &camtrace_kb::Kb) -> Result<(), PlanError> {
        let errors: Vec<String> = self
            .entries
            .iter()
            .flat_map(|e| {
                let mut v = Vec::new();
                if kb.company(&e.maker).is_none() {
                    v.push(format!(
                        "{}: model `{}` names unknown company `{}`",
                        e.defined_at, e.id, e.maker
                    ));
                }
                if kb.brand(&e.brand).is_none() {
                    v.push(format!(
                        "{}: model `{}` names unknown brand `{}`",
                        e.defined_at, e.id, e.brand
                    ));
                }
                v
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PlanError::Kb(errors.join("\n")))
        }
    }

    /// Find an approved model by brand and model name (case- and punctuation-insensitive; the
    /// brand name may be part of the model, as in `AXIS P3265-LVE`).
    pub fn find(&self, brand: &str, model: &str) -> Option<&CatalogueEntry> {
        let n = normalise;
        let (b, m) = (n(brand), n(model));
        self.entries.iter().find(|e| {
            let em = n(&e.model);
            (n(&e.brand) == b || e.maker == brand) && (em == m || em == format!("{b}{m}"))
        })
    }

    /// Like-for-like proposals: same class; same form, environment and IR when known; every
    /// active regime satisfied. Cheapest band first, then resolution (higher first), then model.
    pub fn propose<'a>(
        &'a self,
        want: &Want,
        active_regimes: &[String],
        limit: usize,
    ) -> Vec<&'a CatalogueEntry> {
        let band_rank = |b: &str| match b {
            "low" => 0,
            "mid" => 1,
            "high" => 2,
            _ => 3,
        };
        let mut v: Vec<&CatalogueEntry> = self
            .entries
            .iter()
            .filter(|e| e.class == want.class)
            .filter(|e| {
                active_regimes
                    .iter()
                    .all(|r| e.satisfies.iter().any(|s| s == r))
            })
            .filter(|e| {
                want.form
                    .as_deref()
                    .is_none_or(|f| f.eq_ignore_ascii_case(&e.form))
            })
            .filter(|e| {
                want.environment.as_deref().is_none_or(|w| {
                    w.eq_ignore_ascii_case(&e.environment) || e.environment == "outdoor"
                })
            })
            .filter(|e| want.ir.is_none_or(|ir| !ir || e.ir))
            .filter(|e| want.min_resolution_mp.is_none_or(|r| e.resolution_mp >= r))
            .collect();
        v.sort_by(|a, b| {
            band_rank(&a.price_band)
                .cmp(&band_rank(&b.price_band))
                .then(b.resolution_mp.total_cmp(&a.resolution_mp))
                .then(a.model.cmp(&b.model))
        });
        // Prefer variety of makers in a short list: one per maker first.
        let mut out: Vec<&CatalogueEntry> = Vec::new();
        for e in &v {
            if out.len() < limit && !out.iter().any(|o| o.maker == e.maker) {
                out.push(e);
            }
        }
        for e in &v {
            if out.len() < limit && !out.iter().any(|o| o.id == e.id) {
                out.push(e);
            }
        }
        out
    }
}

/// Lower case, letters and digits only.
fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_loads_and_covers_several_makers_and_forms() {
        let c = Catalogue::load(&KbFiles::embedded()).unwrap();
        let makers: std::collections::BTreeSet<_> =
            c.entries.iter().map(|e| e.maker.as_str()).collect();
        for m in [
            "axis",
            "bosch",
            "hanwha-vision",
            "i-pro",
            "mobotix",
            "avigilon",
            "vivotek",
            "milestone",
            "genetec",
        ] {
            assert!(makers.contains(m), "no {m} in catalogue");
        }
        for f in ["dome", "bullet", "ptz", "fisheye"] {
            assert!(c.entries.iter().any(|e| e.form == f), "no {f}");
        }
        assert!(c.entries.iter().all(|e| e.source.starts_with("https://")));
    }

    #[test]
    fn every_catalogue_maker_and_brand_is_in_the_vendor_knowledge_base() {
        let files = KbFiles::embedded();
        let kb = camtrace_kb::Kb::load(&files).expect("embedded kb loads");
        Catalogue::load(&files)
            .unwrap()
            .validate_against(&kb)
            .unwrap();
        // Recorders have like-for-like proposals too.
        let c = Catalogue::load(&files).unwrap();
        let want = Want {
            class: DeviceClass::Recorder,
            ..Default::default()
        };
        assert!(!c
            .propose(&want, &["uk-2022-sensitive-sites".to_string()], 3)
            .is_empty());
    }

    #[test]
    fn proposals_are_like_for_like_and_satisfy_every_regime() {
        let c = Catalogue::load(&KbFiles::embedded()).unwrap();
        let want = Want {
            class: DeviceClass::Camera,
            form: Some("ptz".into()),
            environment: Some("outdoor".into()),
            ..Default::default()
        };
        let regimes = vec!["uk-2022-sensitive-sites".to_string()];
        let p = c.propose(&want, &regimes, 3);
        assert!(!p.is_empty());
        assert!(p
            .iter()
            .all(|e| e.form == "ptz" && e.environment == "outdoor"));
        let none = c.propose(&want, &["made-up-regime".to_string()], 3);
        assert!(none.is_empty());
    }

    #[test]
    fn overlay_entry_with_bad_form_is_rejected_with_location() {
        let mut files = KbFiles::default();
        files.insert(
            "catalogue/x.toml",
            "[[model]]\nid='x'\nmaker='axis'\nbrand='axis'\nmodel='X'\nclass='camera'\nform='blimp'\nresolution_mp=2.0\nenvironment='indoor'\nir=false\nprice_band='low'\nsatisfies=[]\nsource='s'\nas_of=2026-01-01\n",
        );
        let e = Catalogue::load(&files).unwrap_err().to_string();
        assert!(
            e.contains("catalogue/x.toml:1") && e.contains("blimp"),
            "{e}"
        );
    }

    #[test]
    fn overlay_extends_the_framework() {
        let mut files = KbFiles::embedded();
        files.insert(
            "catalogue/my-framework.toml",
            "[[model]]\nid='acme-dome'\nmaker='axis'\nbrand='axis'\nmodel='Framework Dome 9'\nclass='camera'\nform='turret'\nresolution_mp=4.0\nenvironment='outdoor'\nir=true\nprice_band='low'\nsatisfies=['uk-2022-sensitive-sites']\nsource='framework lot 3'\nas_of=2026-11-01\n",
        );
        let c = Catalogue::load(&files).unwrap();
        let want = Want {
            class: DeviceClass::Camera,
            form: Some("turret".into()),
            ..Default::default()
        };
        let p = c.propose(&want, &["uk-2022-sensitive-sites".to_string()], 3);
        assert_eq!(p.first().map(|e| e.id.as_str()), Some("acme-dome"));
        assert!(p[0].defined_at.contains("catalogue/my-framework.toml:1"));
    }

    #[test]
    fn find_by_brand_and_model() {
        let c = Catalogue::load(&KbFiles::embedded()).unwrap();
        assert_eq!(
            c.find("Axis", "P3265-LVE").map(|e| e.id.as_str()),
            Some("axis-p3265-lve")
        );
        assert_eq!(
            c.find("Hanwha Vision", "xnv-8080r").map(|e| e.id.as_str()),
            Some("hanwha-vision-xnv-8080r")
        );
        assert!(c.find("Axis", "NOPE").is_none());
    }
}
