//! The variables a rule's CEL expressions can read.
//!
//! | variable | fields |
//! |---|---|
//! | `maker` | `known` (bool), `id`, `name`, `country` (ISO alpha-2), `prc_nil` (`"yes"`, `"no"`, `"unknown"`: subject to the PRC National Intelligence Law), `lists` (ids of the lists the maker **or a parent** is on at the evaluation date, e.g. `"fcc-covered"`), `scoped_lists` (those of `lists` whose membership carries a scope, e.g. FCC's "to the extent it is used for ..."), `group` (the maker's id and its parents' ids) |
//! | `brand` | `known` (bool), `id`, `name` |
//! | `device` | `class` (`camera`, `recorder`, `encoder`, `vms`, `intercom`, `access_control`, `other`, `unknown`), `status` (`planned`, `installed`, `disconnected`, `removed`), `surveillance` (bool), `has_scheduled_upgrade` (bool) |
//! | `site` | `sensitive` (any of the four UK criteria), `secret_or_above`, `dv_significant`, `ministerial_use`, `socpa_2005`, `government_building` (bools), `tags` (list of strings), `classification` (string, empty when none) |
//! | `org` | `known` (bool), `kind` (e.g. `central_government`, `local_government`, `federal_agency`, `contractor`; empty when unknown), `country` (ISO alpha-2, empty when unknown) |
//! | `network` | `known` (bool), `core` (on the core departmental network), `internet_exposed` |
//!
//! A rule's `scope` may read `device`, `site`, `org` and `network` only; `when` reads all six.

use serde::Serialize;

/// Variables a `scope` expression may read.
pub const SCOPE_VARS: &[&str] = &["device", "site", "org", "network"];
/// Variables a `when` expression may read.
pub const ALL_VARS: &[&str] = &["maker", "brand", "device", "site", "org", "network"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct MakerVars {
    pub known: bool,
    pub id: String,
    pub name: String,
    pub country: String,
    pub prc_nil: String,
    pub lists: Vec<String>,
    /// Lists among `lists` whose membership is scoped ("to the extent it is used for ...").
    pub scoped_lists: Vec<String>,
    pub group: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct BrandVars {
    pub known: bool,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DeviceVars {
    pub class: String,
    pub status: String,
    pub surveillance: bool,
    pub has_scheduled_upgrade: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SiteVars {
    pub sensitive: bool,
    pub secret_or_above: bool,
    pub dv_significant: bool,
    pub ministerial_use: bool,
    pub socpa_2005: bool,
    pub government_building: bool,
    pub tags: Vec<String>,
    pub classification: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct OrgVars {
    pub known: bool,
    pub kind: String,
    pub country: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct NetworkVars {
    pub known: bool,
    pub core: bool,
    pub internet_exposed: bool,
}

/// Every variable, for one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub maker: MakerVars,
    pub brand: BrandVars,
    pub device: DeviceVars,
    pub site: SiteVars,
    pub org: OrgVars,
    pub network: NetworkVars,
}

impl Vars {
    /// A CEL context binding the six variables.
    pub fn context(&self) -> cel::Context<'static, 'static> {
        let mut ctx = cel::Context::default();
        // Serialising plain structs of strings, bools and string lists cannot fail.
        fn bind<T: Serialize>(ctx: &mut cel::Context<'static, 'static>, name: &str, v: &T) {
            if let Ok(value) = cel::to_value(v) {
                ctx.add_variable_from_value(name, value);
            }
        }
        bind(&mut ctx, "maker", &self.maker);
        bind(&mut ctx, "brand", &self.brand);
        bind(&mut ctx, "device", &self.device);
        bind(&mut ctx, "site", &self.site);
        bind(&mut ctx, "org", &self.org);
        bind(&mut ctx, "network", &self.network);
        ctx
    }
}

/// Sample variable sets used to dry-run every expression at load time.
pub(crate) fn samples() -> Vec<Vars> {
    let empty = Vars {
        device: DeviceVars {
            class: "unknown".into(),
            status: "installed".into(),
            ..Default::default()
        },
        maker: MakerVars {
            prc_nil: "unknown".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let full = Vars {
        maker: MakerVars {
            known: true,
            id: "sample".into(),
            name: "Sample".into(),
            country: "CN".into(),
            prc_nil: "yes".into(),
            lists: vec!["fcc-covered".into(), "ndaa-889".into()],
            scoped_lists: vec!["fcc-covered".into()],
            group: vec!["sample".into(), "sample-parent".into()],
        },
        brand: BrandVars {
            known: true,
            id: "sample".into(),
            name: "Sample".into(),
        },
        device: DeviceVars {
            class: "camera".into(),
            status: "planned".into(),
            surveillance: true,
            has_scheduled_upgrade: true,
        },
        site: SiteVars {
            sensitive: true,
            secret_or_above: true,
            dv_significant: true,
            ministerial_use: true,
            socpa_2005: true,
            government_building: true,
            tags: vec!["public-safety".into()],
            classification: "SECRET".into(),
        },
        org: OrgVars {
            known: true,
            kind: "central_government".into(),
            country: "GB".into(),
        },
        network: NetworkVars {
            known: true,
            core: true,
            internet_exposed: true,
        },
    };
    vec![empty, full]
}

/// Whether `name` is bound by a comprehension macro in `src` (`x.exists(t, ...)`).
pub(crate) fn is_comprehension_binder(src: &str, name: &str) -> bool {
    let bytes = src.as_bytes();
    let mut i = 0;
    while let Some(p) = src[i..].find(name) {
        let start = i + p;
        let end = start + name.len();
        let before = src[..start].trim_end();
        let after = src[end..].trim_start();
        let word_start =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if word_start && before.ends_with('(') && after.starts_with(',') {
            return true;
        }
        i = end;
    }
    false
}

/// Which facts an expression reads, so the reasons can state them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reads {
    pub prc_nil: bool,
    /// `maker.lists` read without naming a list: every membership is relevant.
    pub all_lists: bool,
    /// String literals in the expression (list ids among them).
    pub literals: Vec<String>,
    pub site: bool,
    pub tags: bool,
    pub org: bool,
    pub core: bool,
    pub internet: bool,
    pub country: bool,
}

impl Reads {
    pub fn of(src: &str) -> Self {
        let literals = string_literals(src);
        let lists = src.contains("maker.lists");
        Reads {
            prc_nil: src.contains("prc_nil"),
            all_lists: lists && literals.is_empty(),
            literals: if lists { literals } else { Vec::new() },
            site: src.contains("site."),
            tags: src.contains("site.tags"),
            org: src.contains("org."),
            core: src.contains("network.core"),
            internet: src.contains("network.internet_exposed"),
            country: src.contains("maker.country"),
        }
    }

    pub fn merge(&self, other: &Reads) -> Reads {
        let mut literals = self.literals.clone();
        literals.extend(other.literals.iter().cloned());
        Reads {
            prc_nil: self.prc_nil || other.prc_nil,
            all_lists: self.all_lists || other.all_lists,
            literals,
            site: self.site || other.site,
            tags: self.tags || other.tags,
            org: self.org || other.org,
            core: self.core || other.core,
            internet: self.internet || other.internet,
            country: self.country || other.country,
        }
    }

    pub fn names_list(&self, id: &str) -> bool {
        self.all_lists || self.literals.iter().any(|l| l == id)
    }
}

fn string_literals(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let mut s = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                s.push(d);
            }
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binders_are_recognised() {
        assert!(is_comprehension_binder(
            "site.tags.exists(t, t == 'a')",
            "t"
        ));
        assert!(!is_comprehension_binder("t == 1", "t"));
    }

    #[test]
    fn reads_name_lists() {
        let r = Reads::of(r#""fcc-covered" in maker.lists && site.sensitive"#);
        assert!(r.names_list("fcc-covered"));
        assert!(!r.names_list("ndaa-889"));
        assert!(r.site && !r.prc_nil);
    }
}
