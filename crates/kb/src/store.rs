use crate::schema::*;
use crate::{parse_toml, KbError, KbErrors, KbFile, KbFiles};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompaniesFile {
    #[serde(default)]
    company: Vec<Spanned<Company>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListsFile {
    #[serde(default)]
    list: Vec<Spanned<ListDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandsFile {
    #[serde(default)]
    brand: Vec<Spanned<Brand>>,
    #[serde(default)]
    oem: Vec<Spanned<OemLink>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OuiFile {
    #[serde(default)]
    block: Vec<Spanned<OuiBlock>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignaturesFile {
    #[serde(default)]
    signature: Vec<Spanned<Signature>>,
}

/// Where an entry was defined: knowledge-base file and line, for evidence and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The result of a MAC look-up.
#[derive(Debug, Clone, PartialEq)]
pub struct OuiHit<'a> {
    pub prefix: String,
    pub block: &'a OuiBlock,
    pub company: &'a Company,
}

/// The loaded, validated vendor knowledge base with its indexes.
#[derive(Debug, Clone, Default)]
pub struct Kb {
    pub version: String,
    pub companies: Vec<Company>,
    pub lists: Vec<ListDef>,
    pub brands: Vec<Brand>,
    pub oem_links: Vec<OemLink>,
    pub oui_blocks: Vec<OuiBlock>,
    pub signatures: Vec<Signature>,
    /// Where each signature was defined (same order as `signatures`).
    pub signature_locations: Vec<Location>,
    /// Where each OEM link was defined (same order as `oem_links`).
    pub oem_locations: Vec<Location>,
    /// Where each OUI block was defined (same order as `oui_blocks`).
    pub oui_locations: Vec<Location>,
    company_index: HashMap<String, usize>,
    brand_index: HashMap<String, usize>,
    list_index: HashMap<String, usize>,
    /// Normalised names and aliases of brands to brand indexes.
    brand_names: HashMap<String, usize>,
    /// Normalised short names, legal names and aliases of companies to company indexes.
    company_names: HashMap<String, usize>,
    /// Prefix (upper-case hex, 6, 7 or 9 digits) to block index.
    oui_index: HashMap<String, usize>,
    pub locations: BTreeMap<String, Location>,
    /// Vendored recog databases, their mapping, and component tells (`recog/`, `components/`).
    pub recog: crate::recog::Recog,
}

/// A list membership that reaches a company (see [`Kb::membership_details`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MembershipOn<'a> {
    /// The company named on the list: the company itself or one of its parents.
    pub holder: &'a Company,
    pub membership: &'a ListMembership,
    /// For a parent's membership: the list's wording that covers subsidiaries or affiliates.
    pub inherited_by: Option<&'a AffiliateCoverage>,
    /// The membership and every parent link it passes through are confirmed by a source.
    pub verified: bool,
}

/// Counts of verified and unverified entries (see [`Kb::verification_summary`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerificationSummary {
    /// Every entry and sub-entry (membership, owner period, OEM link ...).
    pub entries: usize,
    /// Entries flagged `unverified = true`, labelled.
    pub unverified: Vec<String>,
    /// Entries with some `unverified_fields`, labelled with those fields.
    pub partial: Vec<String>,
}

/// Fields of a company whose verification decides whether its PRC-NIL status is confirmed.
pub const PRC_NIL_FIELDS: &[&str] = &["prc_nil", "prc_nil_reason", "country", "hq"];

/// Brand relationships the schema accepts in `[[brand.owner]]`.
pub const RELATIONSHIPS: &[&str] = &["own", "sub_brand", "subsidiary", "former_subsidiary"];

/// Values the schema accepts in a company's `makes`.
pub const MAKES: &[&str] = &[
    "camera",
    "recorder",
    "encoder",
    "vms",
    "intercom",
    "access_control",
    "other",
];

/// Normalise a name for look-ups: lower case, letters and digits only (`CP PLUS`, `CP_PLUS`,
/// `CPPlus` all become `cpplus`).
pub fn normalise_name(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn loc(file: &KbFile, span: std::ops::Range<usize>) -> Location {
    Location {
        file: file.display_path(),
        line: file.line_col(span.start).0,
    }
}

fn err_at(file: &KbFile, span: std::ops::Range<usize>, msg: impl Into<String>) -> KbError {
    let (line, col) = file.line_col(span.start);
    KbError::new(&file.display_path(), line, col, msg)
}

impl Kb {
    /// The embedded knowledge base.
    pub fn embedded() -> Result<Self, KbErrors> {
        Self::load(&KbFiles::embedded())
    }

    /// Load and validate the vendor side of the knowledge base from a file set.
    pub fn load(files: &KbFiles) -> Result<Self, KbErrors> {
        let mut errors = KbErrors::default();
        let mut kb = Kb {
            version: files.version(),
            ..Default::default()
        };
        let mut spans: Vec<(String, Location, &'static str)> = Vec::new();

        for f in files.under("companies/") {
            match parse_toml::<CompaniesFile>(f) {
                Ok(cf) => {
                    for c in cf.company {
                        let l = loc(f, c.span());
                        spans.push((c.get_ref().id.clone(), l.clone(), "company"));
                        kb.locations
                            .insert(format!("company:{}", c.get_ref().id), l);
                        kb.companies.push(c.into_inner());
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(f) = files.get("lists.toml") {
            match parse_toml::<ListsFile>(f) {
                Ok(lf) => {
                    for l in lf.list {
                        kb.locations
                            .insert(format!("list:{}", l.get_ref().id), loc(f, l.span()));
                        kb.lists.push(l.into_inner());
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        let mut brand_refs = Vec::new();
        for f in files.under("brands/") {
            match parse_toml::<BrandsFile>(f) {
                Ok(bf) => {
                    for b in bf.brand {
                        let l = loc(f, b.span());
                        kb.locations
                            .insert(format!("brand:{}", b.get_ref().id), l.clone());
                        for o in &b.get_ref().owners {
                            brand_refs.push((o.company.clone(), l.clone(), "brand owner"));
                        }
                        kb.brands.push(b.into_inner());
                    }
                    for o in bf.oem {
                        let l = loc(f, o.span());
                        brand_refs.push((o.get_ref().maker.clone(), l.clone(), "OEM maker"));
                        kb.oem_locations.push(l);
                        kb.oem_links.push(o.into_inner());
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        let mut oui_refs = Vec::new();
        for f in files.under("oui/") {
            match parse_toml::<OuiFile>(f) {
                Ok(of) => {
                    for b in of.block {
                        let span = b.span();
                        for p in &b.get_ref().prefixes {
                            let want = match b.get_ref().registry.as_str() {
                                "MA-L" => 6,
                                "MA-M" => 7,
                                "MA-S" => 9,
                                other => {
                                    errors.push(err_at(f, span.clone(), format!("unknown registry `{other}` (expected MA-L, MA-M or MA-S)")));
                                    break;
                                }
                            };
                            if p.len() != want || !p.chars().all(|c| c.is_ascii_hexdigit()) {
                                errors.push(err_at(
                                    f,
                                    span.clone(),
                                    format!(
                                        "prefix `{p}` is not {want} hex digits for {}",
                                        b.get_ref().registry
                                    ),
                                ));
                            }
                        }
                        oui_refs.push((
                            b.get_ref().company.clone(),
                            loc(f, span.clone()),
                            "OUI block",
                        ));
                        kb.oui_locations.push(loc(f, span));
                        kb.oui_blocks.push(b.into_inner());
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        for f in files.under("signatures/") {
            match parse_toml::<SignaturesFile>(f) {
                Ok(sf) => {
                    for s in sf.signature {
                        let span = s.span();
                        let sig = s.get_ref();
                        let mut b = regex::RegexBuilder::new(&sig.pattern);
                        b.case_insensitive(sig.case_insensitive).size_limit(1 << 20);
                        if let Err(e) = b.build() {
                            errors.push(err_at(
                                f,
                                span.clone(),
                                format!("signature `{}`: bad pattern: {e}", sig.id),
                            ));
                        }
                        if !(0.0..=1.0).contains(&sig.strength) {
                            errors.push(err_at(
                                f,
                                span.clone(),
                                format!(
                                    "signature `{}`: strength {} is outside 0..1",
                                    sig.id, sig.strength
                                ),
                            ));
                        }
                        if sig.maker.is_none()
                            && sig.brand.is_none()
                            && sig.firmware_family.is_none()
                            && sig.class.is_none()
                            && sig.call_home.is_none()
                        {
                            errors.push(err_at(f, span.clone(), format!("signature `{}` proves nothing: give maker, brand, firmware_family, class or call_home", sig.id)));
                        }
                        if let Some(c) = &sig.class {
                            if c.parse::<camtrace_model::DeviceClass>().is_err() {
                                errors.push(err_at(
                                    f,
                                    span.clone(),
                                    format!("signature `{}`: unknown class `{c}`", sig.id),
                                ));
                            }
                        }
                        for c in [&sig.maker, &sig.firmware_family].into_iter().flatten() {
                            oui_refs.push((c.clone(), loc(f, span.clone()), "signature maker"));
                        }
                        if let Some(b) = &sig.brand {
                            spans.push((
                                format!("brand-ref:{b}"),
                                loc(f, span.clone()),
                                "signature brand",
                            ));
                        }
                        kb.signature_locations.push(loc(f, span));
                        kb.signatures.push(s.into_inner());
                    }
                }
                Err(e) => errors.push(e),
            }
        }

        // Indexes and uniqueness.
        for (i, c) in kb.companies.iter().enumerate() {
            if kb.company_index.insert(c.id.clone(), i).is_some() {
                let l = &kb.locations[&format!("company:{}", c.id)];
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!("company id `{}` is defined twice", c.id),
                ));
            }
        }
        for (i, l) in kb.lists.iter().enumerate() {
            if kb.list_index.insert(l.id.clone(), i).is_some() {
                let at = &kb.locations[&format!("list:{}", l.id)];
                errors.push(KbError::new(
                    &at.file,
                    at.line,
                    1,
                    format!("list id `{}` is defined twice", l.id),
                ));
            }
        }
        for (i, b) in kb.brands.iter().enumerate() {
            if kb.brand_index.insert(b.id.clone(), i).is_some() {
                let l = &kb.locations[&format!("brand:{}", b.id)];
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!("brand id `{}` is defined twice", b.id),
                ));
            }
        }
        let mut seen_sig = HashMap::new();
        for (s, l) in kb.signatures.iter().zip(&kb.signature_locations) {
            if let Some(prev) = seen_sig.insert(s.id.clone(), l.clone()) {
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!("signature id `{}` is defined twice (first at {prev})", s.id),
                ));
            }
        }

        // Cross references.
        for (id, l, what) in brand_refs.iter().chain(oui_refs.iter()) {
            if !kb.company_index.contains_key(id) {
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!("{what} names unknown company `{id}`"),
                ));
            }
        }
        for (id, l, what) in &spans {
            if let Some(b) = id.strip_prefix("brand-ref:") {
                if !kb.brand_index.contains_key(b) {
                    errors.push(KbError::new(
                        &l.file,
                        l.line,
                        1,
                        format!("{what} names unknown brand `{b}`"),
                    ));
                }
            }
        }
        for c in &kb.companies {
            let l = &kb.locations[&format!("company:{}", c.id)];
            if let Some(p) = &c.parent {
                if !kb.company_index.contains_key(p) {
                    errors.push(KbError::new(
                        &l.file,
                        l.line,
                        1,
                        format!("company `{}` has unknown parent `{p}`", c.id),
                    ));
                }
            }
            for m in &c.lists {
                if !kb.list_index.contains_key(&m.list) {
                    errors.push(KbError::new(
                        &l.file,
                        l.line,
                        1,
                        format!("company `{}` is on unknown list `{}`", c.id, m.list),
                    ));
                }
            }
            if c.source.trim().is_empty() || c.prc_nil_reason.trim().is_empty() {
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!(
                        "company `{}`: source and prc_nil_reason must not be empty",
                        c.id
                    ),
                ));
            }
        }
        for (o, l) in kb.oem_links.iter().zip(&kb.oem_locations) {
            if !kb.brand_index.contains_key(&o.brand) {
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!("OEM link names unknown brand `{}`", o.brand),
                ));
            }
            check_period(&mut errors, l, "OEM link", o.from, o.to);
            check_source(
                &mut errors,
                l,
                &format!("OEM link {} -> {}", o.brand, o.maker),
                &o.source,
            );
            for p in &o.models {
                if p.trim().is_empty() || p.trim() == "*" {
                    errors.push(KbError::new(&l.file, l.line, 1, format!("OEM link {} -> {}: empty model pattern (leave `models` out for a brand-wide link)", o.brand, o.maker)));
                }
            }
        }
        validate_entries(&kb, &mut errors);
        check_citations(files, &mut errors);
        check_verification(files, &mut errors);

        for (i, b) in kb.oui_blocks.iter().enumerate() {
            for p in &b.prefixes {
                if let Some(prev) = kb.oui_index.insert(p.to_ascii_uppercase(), i) {
                    if kb.oui_blocks[prev].company != b.company {
                        let l = &kb.oui_locations[i];
                        errors.push(KbError::new(
                            &l.file,
                            l.line,
                            1,
                            format!(
                                "prefix `{p}` is assigned to both `{}` and `{}`",
                                kb.oui_blocks[prev].company, b.company
                            ),
                        ));
                    }
                }
            }
        }
        for (i, c) in kb.companies.iter().enumerate() {
            for n in [&c.id, &c.short, &c.name]
                .into_iter()
                .chain(c.aliases.iter())
            {
                kb.company_names.entry(normalise_name(n)).or_insert(i);
            }
        }
        for (i, b) in kb.brands.iter().enumerate() {
            for n in [&b.id, &b.name].into_iter().chain(b.aliases.iter()) {
                kb.brand_names.entry(normalise_name(n)).or_insert(i);
            }
        }
        kb.recog = crate::recog::load(files, &kb, &mut errors);
        errors.into_result(kb)
    }

    pub fn company(&self, id: &str) -> Option<&Company> {
        self.company_index.get(id).map(|&i| &self.companies[i])
    }

    pub fn brand(&self, id: &str) -> Option<&Brand> {
        self.brand_index.get(id).map(|&i| &self.brands[i])
    }

    pub fn list(&self, id: &str) -> Option<&ListDef> {
        self.list_index.get(id).map(|&i| &self.lists[i])
    }

    /// Look a brand up by id or any of its names (`CP PLUS`, `cpplus`, `CP_PLUS`).
    pub fn brand_by_name(&self, name: &str) -> Option<&Brand> {
        if let Some(b) = self.brand(name) {
            return Some(b);
        }
        self.brand_names
            .get(&normalise_name(name))
            .map(|&i| &self.brands[i])
    }

    /// Look a company up by id, short name, legal name or alias.
    pub fn company_by_name(&self, name: &str) -> Option<&Company> {
        if let Some(c) = self.company(name) {
            return Some(c);
        }
        self.company_names
            .get(&normalise_name(name))
            .map(|&i| &self.companies[i])
    }

    /// The owner of a brand on a date (e.g. Lorex: Dahua before 2022-11-24).
    pub fn brand_owner_on(&self, brand: &str, date: NaiveDate) -> Option<&BrandOwner> {
        self.brand(brand)?
            .owners
            .iter()
            .filter(|o| o.active_on(date))
            .max_by_key(|o| o.confidence)
    }

    /// OEM links that say who makes `model` sold under `brand` on `date`, best first: model
    /// pattern matches before brand-wide links, then by confidence.
    pub fn oem_for(&self, brand: &str, model: Option<&str>, date: NaiveDate) -> Vec<&OemLink> {
        let mut v: Vec<(&OemLink, bool)> = self
            .oem_links
            .iter()
            .filter(|o| o.brand == brand && o.active_on(date))
            .filter_map(|o| {
                if o.models.is_empty() {
                    Some((o, false))
                } else {
                    let m = model?;
                    o.models
                        .iter()
                        .any(|p| model_matches(p, m))
                        .then_some((o, true))
                }
            })
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.confidence.cmp(&a.0.confidence)));
        v.into_iter().map(|(o, _)| o).collect()
    }

    /// Look up a MAC address (any common notation) in the OUI blocks, longest prefix first.
    pub fn lookup_mac(&self, mac: &str) -> Option<OuiHit<'_>> {
        let hex: String = mac
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if hex.len() != 12 {
            return None;
        }
        for len in [9, 7, 6] {
            if let Some(&i) = self.oui_index.get(&hex[..len]) {
                let block = &self.oui_blocks[i];
                let company = self.company(&block.company)?;
                return Some(OuiHit {
                    prefix: hex[..len].to_string(),
                    block,
                    company,
                });
            }
        }
        None
    }

    /// Verified memberships of a company active on `date`: its own, and those of its parents on
    /// lists whose own wording covers subsidiaries or affiliates (see [`ListDef::affiliates`]).
    /// Memberships marked `unverified`, and those passed down through a parent link no source
    /// confirms, are left out: see [`Kb::memberships_on`] and [`Kb::membership_details`].
    pub fn lists_on(&self, company: &str, date: NaiveDate) -> Vec<(&Company, &ListMembership)> {
        self.memberships_on(company, date, false)
    }

    /// Memberships active on `date` of the company and (where the list covers subsidiaries or
    /// affiliates) of its parents, optionally with the unverified ones.
    pub fn memberships_on(
        &self,
        company: &str,
        date: NaiveDate,
        include_unverified: bool,
    ) -> Vec<(&Company, &ListMembership)> {
        self.membership_details(company, date)
            .into_iter()
            .filter(|m| include_unverified || m.verified)
            .map(|m| (m.holder, m.membership))
            .collect()
    }

    /// Every membership active on `date` that reaches the company, with how it reaches it:
    /// own, or a parent's on a list whose wording covers subsidiaries or affiliates (quoted in
    /// `inherited_by`), and whether it rests on confirmed facts only (`verified`: the membership
    /// and every parent link on the way are sourced).
    pub fn membership_details(&self, company: &str, date: NaiveDate) -> Vec<MembershipOn<'_>> {
        let mut out = Vec::new();
        let mut links_verified = true;
        for (depth, c) in self.company_chain(company).into_iter().enumerate() {
            for m in c.lists.iter().filter(|m| m.active_on(date)) {
                let inherited_by = if depth == 0 {
                    None
                } else {
                    match self.list(&m.list).and_then(|l| l.affiliates.as_ref()) {
                        Some(a) => Some(a),
                        None => continue,
                    }
                };
                out.push(MembershipOn {
                    holder: c,
                    membership: m,
                    inherited_by,
                    verified: !m.unverified && links_verified,
                });
            }
            // The link from `c` to its parent: unverified when the entry or its `parent` is.
            if c.unverified || c.unverified_fields.iter().any(|f| f == "parent") {
                links_verified = false;
            }
        }
        out
    }

    /// Whether the facts that decide a company's PRC-NIL status (`prc_nil`, its reason, the
    /// country and headquarters) are confirmed by a source: `false` when the entry is
    /// `unverified` or names one of those fields in `unverified_fields`.
    pub fn prc_nil_verified(&self, company: &str) -> bool {
        self.company(company).is_some_and(|c| {
            !c.unverified
                && !c
                    .unverified_fields
                    .iter()
                    .any(|f| PRC_NIL_FIELDS.contains(&f.as_str()))
        })
    }

    /// How many entries (companies, memberships, lists, brands, owner periods, OEM links, OUI
    /// blocks, signatures) the knowledge base holds, and which are unverified or partly so.
    pub fn verification_summary(&self) -> VerificationSummary {
        let mut v = VerificationSummary::default();
        let mut one = |label: String, unverified: bool, fields: &[String]| {
            v.entries += 1;
            if unverified {
                v.unverified.push(label);
            } else if !fields.is_empty() {
                v.partial.push(format!("{label} ({})", fields.join(", ")));
            }
        };
        for c in &self.companies {
            one(
                format!("company {}", c.id),
                c.unverified,
                &c.unverified_fields,
            );
            if let Some(so) = &c.state_ownership {
                one(
                    format!("company {} state_ownership", c.id),
                    so.unverified,
                    &[],
                );
            }
            for m in &c.lists {
                one(
                    format!("company {} membership {}", c.id, m.list),
                    m.unverified,
                    &[],
                );
            }
        }
        for l in &self.lists {
            one(format!("list {}", l.id), l.unverified, &[]);
        }
        for b in &self.brands {
            one(
                format!("brand {}", b.id),
                b.unverified,
                &b.unverified_fields,
            );
            for o in &b.owners {
                one(
                    format!("brand {} owner {}", b.id, o.company),
                    o.unverified,
                    &[],
                );
            }
        }
        for (o, l) in self.oem_links.iter().zip(&self.oem_locations) {
            one(
                format!("OEM link {} -> {} ({l})", o.brand, o.maker),
                o.unverified,
                &[],
            );
        }
        for (b, l) in self.oui_blocks.iter().zip(&self.oui_locations) {
            one(format!("OUI block {} ({l})", b.company), b.unverified, &[]);
        }
        for s in &self.signatures {
            one(format!("signature {}", s.id), s.unverified, &[]);
        }
        v
    }

    /// The company and its parents, nearest first (cycles and chains deeper than 8 are cut).
    pub fn company_chain(&self, company: &str) -> Vec<&Company> {
        let mut out: Vec<&Company> = Vec::new();
        let mut cur = self.company(company);
        while let Some(c) = cur {
            if out.len() > 8 || out.iter().any(|x| x.id == c.id) {
                break;
            }
            out.push(c);
            cur = c.parent.as_deref().and_then(|p| self.company(p));
        }
        out
    }

    /// The companies whose `parent` is `company`.
    pub fn subsidiaries(&self, company: &str) -> Vec<&Company> {
        self.companies
            .iter()
            .filter(|c| c.parent.as_deref() == Some(company))
            .collect()
    }

    /// The list memberships of a company by id (its own, all dates).
    pub fn memberships(&self, company: &str) -> &[ListMembership] {
        self.company(company)
            .map(|c| c.lists.as_slice())
            .unwrap_or(&[])
    }

    /// Where an entry was defined: `kind` is `company`, `brand` or `list`.
    pub fn location(&self, kind: &str, id: &str) -> Option<&Location> {
        self.locations.get(&format!("{kind}:{id}"))
    }

    /// Number of MAC prefixes in all OUI blocks.
    pub fn oui_prefix_count(&self) -> usize {
        self.oui_blocks.iter().map(|b| b.prefixes.len()).sum()
    }
}

fn check_source(errors: &mut KbErrors, l: &Location, what: &str, source: &str) {
    if source.trim().is_empty() {
        errors.push(KbError::new(
            &l.file,
            l.line,
            1,
            format!("{what}: `source` must not be empty"),
        ));
    }
}

/// Internal reference files of the camtrace project (its compiled facts and its test corpus).
/// They are not shipped with the product, so a citation that names one cannot be followed by a
/// user of the binary: the loader refuses it (case-insensitive match).
pub const INTERNAL_REFERENCES: &[&str] = &[
    "vendors.md",
    "protocols.md",
    "policies.md",
    "anchors.md",
    "facts/",
    "shared/",
    "facts file",
    "shared facts",
    "shared corpus",
];

/// Keys whose values are citations, in every knowledge-base file (including the `policies/`,
/// `catalogue/` and `costs.toml` files other crates parse): strings, arrays of strings
/// (`also`) and inline tables (a policy's `citation = { url, text }`).
const CITATION_KEYS: &[&str] = &["source", "also", "sources", "citation", "reference"];

/// The internal reference file a citation names, if any (see [`INTERNAL_REFERENCES`]). The
/// words of a URL (`https://...`) are not searched: a URL is a public address a user can
/// follow, whatever its path. A `file://` URL is searched.
pub fn internal_reference(citation: &str) -> Option<&'static str> {
    let text = citation
        .split_whitespace()
        .filter(|w| {
            let w = w.to_ascii_lowercase();
            !w.contains("://") || w.contains("file://")
        })
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    INTERNAL_REFERENCES
        .iter()
        .copied()
        .find(|r| text.contains(r))
}

/// Refuse every citation (see [`CITATION_KEYS`]) in every file that names an internal reference
/// file: the shipped knowledge base must cite public sources. Files that do not parse are left
/// to the parser that owns them, which reports the syntax error.
fn check_citations(files: &KbFiles, errors: &mut KbErrors) {
    for f in files.all() {
        if !f.path.ends_with(".toml") {
            continue;
        }
        if let Ok(doc) = toml::de::DeTable::parse(&f.text) {
            citations_in_table(f, doc.get_ref(), "", errors);
        }
    }
}

fn citations_in_table(
    f: &KbFile,
    table: &toml::de::DeTable<'_>,
    entry: &str,
    errors: &mut KbErrors,
) {
    use toml::de::DeValue;
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        if CITATION_KEYS.contains(&key) {
            citation_value(f, v, entry, key, errors);
            continue;
        }
        match v.get_ref() {
            DeValue::Table(inner) => {
                citations_in_table(f, inner, &entry_path(entry, key), errors);
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        let label = entry_label(key, i, inner);
                        citations_in_table(f, inner, &entry_path(entry, &label), errors);
                    }
                }
            }
            _ => {}
        }
    }
}

fn citation_value(
    f: &KbFile,
    v: &toml::Spanned<toml::de::DeValue<'_>>,
    entry: &str,
    key: &str,
    errors: &mut KbErrors,
) {
    use toml::de::DeValue;
    match v.get_ref() {
        DeValue::String(s) => {
            if let Some(r) = internal_reference(s) {
                let what = if entry.is_empty() { "file" } else { entry };
                errors.push(err_at(
                    f,
                    v.span(),
                    format!(
                        "{what}: `{key}` cites the internal file `{r}`, which is not shipped with camtrace; \
                         cite the public source it is based on (title, URL), or say `unverified: ...` when there is none"
                    ),
                ));
            }
        }
        DeValue::Array(items) => {
            for item in items.iter() {
                citation_value(f, item, entry, key, errors);
            }
        }
        DeValue::Table(t) => {
            for (_, item) in t.iter() {
                citation_value(f, item, entry, key, errors);
            }
        }
        _ => {}
    }
}

/// How the entries of a knowledge base cite their sources (see [`check_source_urls`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CitationSummary {
    /// Entries: every table with a `source`, in every knowledge-base TOML file.
    pub entries: usize,
    /// Entries whose citation (`source`, `also`, `citation` ...) holds an http(s) URL.
    pub with_url: usize,
    /// Entries without a URL that are flagged `unverified = true`.
    pub unverified: usize,
    /// Entries without a URL that say why (`source_kind`), by accepted kind (`offline`,
    /// `assumption`).
    pub declared: BTreeMap<SourceKind, usize>,
    /// Verified entries without a URL that do not say why, and entries that give the refused
    /// `source_kind = "unrecorded"` or an unknown kind (each is an error).
    pub refused: usize,
}

impl CitationSummary {
    /// Entries whose citation holds no URL.
    pub fn without_url(&self) -> usize {
        self.entries - self.with_url
    }
}

/// Whether a citation value (a string, an array of them, an inline table such as a policy's
/// `citation = { url, text }`) holds an http(s) URL with a host.
fn holds_url(v: &toml::de::DeValue<'_>) -> bool {
    use toml::de::DeValue;
    match v {
        DeValue::String(s) => {
            let lower = s.to_ascii_lowercase();
            ["https://", "http://"].iter().any(|scheme| {
                lower.match_indices(scheme).any(|(i, _)| {
                    lower[i + scheme.len()..]
                        .split(|c: char| c.is_whitespace() || c == '/')
                        .next()
                        .is_some_and(|host| host.contains('.') && host.len() > 3)
                })
            })
        }
        DeValue::Array(items) => items.iter().any(|i| holds_url(i.get_ref())),
        DeValue::Table(t) => t.iter().any(|(_, v)| holds_url(v.get_ref())),
        _ => false,
    }
}

/// The citation-URL check `camtrace kb check` runs over a file set: every entry (a table with a
/// `source`, in any TOML file) must cite a public URL in `source` (or `also`, `citation` ...),
/// unless it is `unverified = true` or says with `source_kind` why there is none (`offline`: no
/// public URL exists; `assumption`: camtrace's own default). A verified entry with neither is an
/// error naming file, line and entry; so is `source_kind = "unrecorded"` (a public source whose
/// URL was not written down: a citation that cannot be followed, refused since issue 13, even
/// on an unverified entry), a `source_kind` on an entry that does cite a URL, and an unknown
/// `source_kind`.
///
/// The loader does not run this check: a user's overlay or a test's small base may cite sources
/// by name only; the shipped base must pass it.
pub fn check_source_urls(files: &KbFiles) -> (CitationSummary, KbErrors) {
    let mut summary = CitationSummary::default();
    let mut errors = KbErrors::default();
    for f in files.all() {
        if !f.path.ends_with(".toml") {
            continue;
        }
        if let Ok(doc) = toml::de::DeTable::parse(&f.text) {
            urls_in_table(f, doc.get_ref(), "", &mut summary, &mut errors);
        }
    }
    (summary, errors)
}

fn urls_in_table(
    f: &KbFile,
    table: &toml::de::DeTable<'_>,
    entry: &str,
    summary: &mut CitationSummary,
    errors: &mut KbErrors,
) {
    use toml::de::DeValue;
    let get = |name: &str| {
        table
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    };
    if let Some(source) = get("source") {
        summary.entries += 1;
        let what = if entry.is_empty() { "entry" } else { entry };
        let has_url = CITATION_KEYS
            .iter()
            .filter_map(|k| get(k))
            .any(|v| holds_url(v.get_ref()));
        let unverified = matches!(
            get("unverified").map(|v| v.get_ref()),
            Some(DeValue::Boolean(true))
        );
        let kind = get("source_kind").map(|v| match v.get_ref() {
            DeValue::String(s) => SourceKind::parse_any(s).ok_or_else(|| s.to_string()),
            other => Err(format!("{other:?}")),
        });
        match (has_url, kind) {
            (_, Some(Err(bad))) => {
                summary.refused += 1;
                errors.push(err_at(
                    f,
                    get("source_kind").map_or(source.span(), |v| v.span()),
                    format!(
                        "{what}: unknown `source_kind` {bad} (expected one of {})",
                        SourceKind::ALL
                            .iter()
                            .map(|k| format!("\"{}\"", k.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            (false, Some(Ok(SourceKind::Unrecorded))) => {
                summary.refused += 1;
                errors.push(err_at(
                    f,
                    get("source_kind").map_or(source.span(), |v| v.span()),
                    format!(
                        "{what}: `source_kind = \"unrecorded\"` is refused: a public source has a URL, and a \
                         citation without it cannot be followed. Record the source's URL (https://...) in `source` \
                         and drop `source_kind`; when no public URL exists, say so with `source_kind = \"offline\"` \
                         (naming the document); when no source can be followed, mark the entry `unverified = true` \
                         and say why in `source`"
                    ),
                ));
            }
            (true, Some(Ok(k))) => {
                summary.with_url += 1;
                errors.push(err_at(
                    f,
                    get("source_kind").map_or(source.span(), |v| v.span()),
                    format!(
                        "{what}: `source_kind = \"{}\"` says the citation has no URL, but it cites one: remove `source_kind`",
                        k.as_str()
                    ),
                ));
            }
            (true, None) => summary.with_url += 1,
            (false, _) if unverified => summary.unverified += 1,
            (false, Some(Ok(k))) => *summary.declared.entry(k).or_default() += 1,
            (false, None) => {
                summary.refused += 1;
                errors.push(err_at(
                    f,
                    source.span(),
                    format!(
                        "{what}: `source` cites no URL. Add the public source's URL (https://...) to `source`; \
                         when there is none, say why with `source_kind = \"offline\"` (bought, paywalled or private \
                         document, named in `source`) or `source_kind = \"assumption\"` (camtrace's own default); \
                         an entry no source confirms takes `unverified = true`"
                    ),
                ));
            }
        }
    }
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        if CITATION_KEYS.contains(&key) {
            continue;
        }
        match v.get_ref() {
            DeValue::Table(inner) => {
                urls_in_table(f, inner, &entry_path(entry, key), summary, errors);
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        let label = entry_label(key, i, inner);
                        urls_in_table(f, inner, &entry_path(entry, &label), summary, errors);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Folders and files whose entries carry the `unverified` / `unverified_fields` flags.
const FLAGGED_FILES: &[&str] = &["companies/", "brands/", "oui/", "signatures/", "lists.toml"];

/// Text fields of an entry that may say a fact is unverified.
const TEXT_KEYS: &[&str] = &[
    "source",
    "also",
    "note",
    "parent_note",
    "hq",
    "prc_nil_reason",
    "description",
];

/// Refuse every entry whose own words say it is unverified but that does not carry the
/// machine-readable flag: `unverified = true` (required when `source` begins with
/// "unverified"), or `unverified_fields` naming the fields no source confirms. Also refuse a
/// `unverified_fields` item that is not a field of the entry.
fn check_verification(files: &KbFiles, errors: &mut KbErrors) {
    for f in files.all() {
        if !f.path.ends_with(".toml") || !FLAGGED_FILES.iter().any(|p| f.path.starts_with(p)) {
            continue;
        }
        if let Ok(doc) = toml::de::DeTable::parse(&f.text) {
            verification_in_table(f, doc.get_ref(), None, "", errors);
        }
    }
}

fn says_unverified(v: &toml::de::DeValue<'_>) -> bool {
    use toml::de::DeValue;
    match v {
        DeValue::String(s) => s.to_lowercase().contains("unverified"),
        DeValue::Array(items) => items.iter().any(|i| says_unverified(i.get_ref())),
        _ => false,
    }
}

fn verification_in_table(
    f: &KbFile,
    table: &toml::de::DeTable<'_>,
    span: Option<std::ops::Range<usize>>,
    entry: &str,
    errors: &mut KbErrors,
) {
    use toml::de::DeValue;
    let get = |name: &str| {
        table
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    };
    if let (Some(source), Some(span)) = (get("source"), span.clone()) {
        let flagged = matches!(
            get("unverified").map(|v| v.get_ref()),
            Some(DeValue::Boolean(true))
        );
        let mut fields = Vec::new();
        if let Some(v) = get("unverified_fields") {
            if let DeValue::Array(items) = v.get_ref() {
                for i in items.iter() {
                    if let DeValue::String(s) = i.get_ref() {
                        fields.push(s.to_string());
                    }
                }
            }
        }
        let what = if entry.is_empty() { "entry" } else { entry };
        let source_unverified = matches!(source.get_ref(), DeValue::String(s)
            if s.trim_start().to_lowercase().starts_with("unverified"));
        let says: Vec<&str> = TEXT_KEYS
            .iter()
            .copied()
            .filter(|k| get(k).is_some_and(|v| says_unverified(v.get_ref())))
            .collect();
        if source_unverified && !flagged {
            errors.push(err_at(
                f,
                span.clone(),
                format!("{what}: its `source` says it is unverified, but the entry lacks `unverified = true`"),
            ));
        } else if !says.is_empty() && !flagged && fields.is_empty() {
            errors.push(err_at(
                f,
                span.clone(),
                format!(
                    "{what}: its `{}` says something is unverified, but the entry carries no flag: \
                     add `unverified = true`, or `unverified_fields = [...]` naming the fields no source confirms",
                    says.join("`, `")
                ),
            ));
        }
        for field in &fields {
            if field != "parent" && get(field).is_none() {
                errors.push(err_at(
                    f,
                    span.clone(),
                    format!("{what}: `unverified_fields` names `{field}`, which the entry does not have"),
                ));
            }
        }
    }
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        match v.get_ref() {
            DeValue::Table(inner) => {
                verification_in_table(f, inner, Some(v.span()), &entry_path(entry, key), errors);
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        let label = entry_label(key, i, inner);
                        verification_in_table(
                            f,
                            inner,
                            Some(item.span()),
                            &entry_path(entry, &label),
                            errors,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// `company `hikvision` > list `ns-cmic``: where a citation sits, for error messages.
fn entry_path(parent: &str, label: &str) -> String {
    if parent.is_empty() {
        label.to_string()
    } else {
        format!("{parent} > {label}")
    }
}

/// A readable name for the `i`th table of an array of tables: its id, or the field that
/// identifies it in that kind of entry (a membership's list, an owner's company, an OEM link's
/// brand and maker), else its position.
fn entry_label(key: &str, i: usize, t: &toml::de::DeTable<'_>) -> String {
    let field = |name: &str| {
        t.iter().find_map(|(k, v)| match v.get_ref() {
            toml::de::DeValue::String(s) if k.get_ref() == name => Some(s.to_string()),
            _ => None,
        })
    };
    if let Some(id) = field("id") {
        return format!("{key} `{id}`");
    }
    if let (Some(b), Some(m)) = (field("brand"), field("maker")) {
        return format!("{key} `{b}` -> `{m}`");
    }
    for name in ["list", "company", "class", "model"] {
        if let Some(v) = field(name) {
            return format!("{key} `{v}`");
        }
    }
    format!("{key} #{}", i + 1)
}

fn check_period(
    errors: &mut KbErrors,
    l: &Location,
    what: &str,
    from: Option<crate::KbDate>,
    to: Option<crate::KbDate>,
) {
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            errors.push(KbError::new(
                &l.file,
                l.line,
                1,
                format!("{what}: end {t} is not after start {f}"),
            ));
        }
    }
}

/// Entry-level checks that need no cross reference: non-empty sources everywhere, known
/// relationship and `makes` values, sane periods.
fn validate_entries(kb: &Kb, errors: &mut KbErrors) {
    let none = Location {
        file: "kb".into(),
        line: 0,
    };
    for c in &kb.companies {
        let l = kb.location("company", &c.id).unwrap_or(&none);
        if let Some(so) = &c.state_ownership {
            check_source(
                errors,
                l,
                &format!("company `{}` state_ownership", c.id),
                &so.source,
            );
            if let Some(p) = so.share_pct {
                if !(0.0..=100.0).contains(&p) {
                    errors.push(KbError::new(
                        &l.file,
                        l.line,
                        1,
                        format!("company `{}`: state share {p} is outside 0..100", c.id),
                    ));
                }
            }
        }
        for m in &c.makes {
            if !MAKES.contains(&m.as_str()) {
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!(
                        "company `{}`: unknown `makes` value `{m}` (expected one of {})",
                        c.id,
                        MAKES.join(", ")
                    ),
                ));
            }
        }
        for m in &c.lists {
            check_source(
                errors,
                l,
                &format!("company `{}` membership of `{}`", c.id, m.list),
                &m.source,
            );
            check_period(
                errors,
                l,
                &format!("company `{}` membership of `{}`", c.id, m.list),
                Some(m.added),
                m.removed,
            );
        }
        if c.parent.as_deref() == Some(c.id.as_str()) {
            errors.push(KbError::new(
                &l.file,
                l.line,
                1,
                format!("company `{}` is its own parent", c.id),
            ));
        }
    }
    for li in &kb.lists {
        let l = kb.location("list", &li.id).unwrap_or(&none);
        check_source(errors, l, &format!("list `{}`", li.id), &li.source);
    }
    for b in &kb.brands {
        let l = kb.location("brand", &b.id).unwrap_or(&none);
        check_source(errors, l, &format!("brand `{}`", b.id), &b.source);
        for o in &b.owners {
            check_source(
                errors,
                l,
                &format!("brand `{}` owner `{}`", b.id, o.company),
                &o.source,
            );
            check_period(
                errors,
                l,
                &format!("brand `{}` owner `{}`", b.id, o.company),
                o.from,
                o.to,
            );
            if !RELATIONSHIPS.contains(&o.relationship.as_str()) {
                errors.push(KbError::new(
                    &l.file,
                    l.line,
                    1,
                    format!(
                        "brand `{}` owner `{}`: unknown relationship `{}` (expected one of {})",
                        b.id,
                        o.company,
                        o.relationship,
                        RELATIONSHIPS.join(", ")
                    ),
                ));
            }
        }
    }
    for (b, l) in kb.oui_blocks.iter().zip(&kb.oui_locations) {
        check_source(
            errors,
            l,
            &format!("OUI block of `{}`", b.company),
            &b.source,
        );
        if b.prefixes.is_empty() {
            errors.push(KbError::new(
                &l.file,
                l.line,
                1,
                format!("OUI block of `{}` has no prefixes", b.company),
            ));
        }
    }
    for (s, l) in kb.signatures.iter().zip(&kb.signature_locations) {
        check_source(errors, l, &format!("signature `{}`", s.id), &s.source);
    }
}

/// Match a model against a pattern: case-insensitive, `*` matches any run, and a pattern
/// without a trailing `*` still matches as a prefix.
pub fn model_matches(pattern: &str, model: &str) -> bool {
    let p = pattern.to_ascii_uppercase();
    let m = model.to_ascii_uppercase();
    let parts: Vec<&str> = p.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !m.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if let Some(found) = m[pos..].find(part) {
            pos += found + part.len();
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_patterns() {
        assert!(model_matches("CMIP*", "cmip3042"));
        assert!(model_matches("DS-2CD", "DS-2CD2143G0-I"));
        assert!(model_matches("*-HDW*", "DH-IPC-HDW1230T2"));
        assert!(!model_matches("CMIP*", "LTN8704"));
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalise_name("CP_PLUS"), "cpplus");
        assert_eq!(normalise_name("CP Plus"), "cpplus");
    }

    const MINI: &str = r#"
[[company]]
id = "acme"
name = "Acme Ltd"
short = "Acme"
country = "GB"
prc_nil = "no"
prc_nil_reason = "UK company"
source = "test"
as_of = 2026-01-01
"#;

    #[test]
    fn entry_without_source_fails_with_file_and_line() {
        let mut files = KbFiles::default();
        files.insert("companies/x.toml", MINI.replace("source = \"test\"\n", ""));
        let err = Kb::load(&files).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("companies/x.toml:2"), "{text}");
        assert!(text.contains("source"), "{text}");
    }

    #[test]
    fn unknown_references_are_reported() {
        let mut files = KbFiles::default();
        files.insert(
            "companies/x.toml",
            MINI.replace(
                "as_of = 2026-01-01",
                "as_of = 2026-01-01\nparent = \"nobody\"",
            ),
        );
        let text = Kb::load(&files).unwrap_err().to_string();
        assert!(text.contains("unknown parent `nobody`"), "{text}");
    }

    #[test]
    fn bad_date_is_reported() {
        let mut files = KbFiles::default();
        files.insert(
            "companies/x.toml",
            MINI.replace("2026-01-01", "\"last tuesday\""),
        );
        let text = Kb::load(&files).unwrap_err().to_string();
        assert!(text.contains("not a date"), "{text}");
    }

    #[test]
    fn citation_of_an_internal_file_is_refused_with_file_and_entry() {
        let mut files = KbFiles::default();
        files.insert(
            "companies/x.toml",
            MINI.replace("source = \"test\"", "source = \"vendors.md section 5\""),
        );
        let text = Kb::load(&files).unwrap_err().to_string();
        assert!(text.contains("companies/x.toml:9:"), "{text}");
        assert!(text.contains("company `acme`"), "{text}");
        assert!(
            text.contains("`source` cites the internal file `vendors.md`"),
            "{text}"
        );
    }

    #[test]
    fn internal_references_are_refused_in_also_memberships_and_other_files() {
        let mut files = KbFiles::default();
        files.insert(
            "companies/x.toml",
            MINI.replace(
                "as_of = 2026-01-01",
                "also = [\"IEEE listing\", \"via Shared Facts/Protocols.MD 2.2\"]\nas_of = 2026-01-01\n\n\
                 [[company.list]]\nlist = \"l\"\nadded = 2020-01-01\nsource = \"Facts file policies.md 1.7\"\nas_of = 2026-01-01",
            ),
        );
        files.insert(
            "lists.toml",
            "[[list]]\nid = \"l\"\nname = \"L\"\nauthority = \"A\"\njurisdiction = \"US\"\nsource = \"https://example.org/shared/facts/list.html\"\nas_of = 2026-01-01\n",
        );
        // A file this crate does not parse (policies are the policy crate's) is checked too.
        files.insert(
            "policies/p.toml",
            "[regime]\nid = \"p\"\nsource = \"see anchors.md\"\ncitation = { url = \"file:///work/shared/facts/policies.md\", text = \"x\" }\n",
        );
        let err = Kb::load(&files).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 4, "{text}");
        assert!(
            text.contains("company `acme`: `also` cites the internal file `protocols.md`"),
            "{text}"
        );
        assert!(
            text.contains(
                "company `acme` > list `l`: `source` cites the internal file `policies.md`"
            ),
            "{text}"
        );
        assert!(text.contains("policies/p.toml:3:"), "{text}");
        assert!(
            text.contains("regime: `source` cites the internal file `anchors.md`"),
            "{text}"
        );
        assert!(
            text.contains("regime: `citation` cites the internal file `policies.md`"),
            "{text}"
        );
        // A public URL is followable whatever its path.
        assert!(!text.contains("lists.toml"), "{text}");
    }

    #[test]
    fn internal_reference_matching() {
        assert_eq!(
            internal_reference("vendors.md section 5"),
            Some("vendors.md")
        );
        assert_eq!(internal_reference("PROTOCOLS.md 2.3"), Some("protocols.md"));
        assert_eq!(
            internal_reference("see the shared corpus sample"),
            Some("shared corpus")
        );
        assert_eq!(internal_reference("/work/shared/x"), Some("shared/"));
        assert_eq!(
            internal_reference("rapid7/recog @14fa1a72 x509_subjects.xml"),
            None
        );
        assert_eq!(
            internal_reference("https://github.com/o/r/blob/main/docs/policies.md"),
            None
        );
        assert_eq!(
            internal_reference("unverified: no public primary source located as of 2026-11"),
            None
        );
    }

    #[test]
    fn embedded_base_loads_and_cites_no_internal_file() {
        let files = KbFiles::embedded();
        let mut errors = KbErrors::default();
        check_citations(&files, &mut errors);
        assert!(errors.is_empty(), "{}", errors);
        if let Err(e) = Kb::load(&files) {
            panic!("{e}");
        }
    }

    #[test]
    fn minimal_base_loads() {
        let mut files = KbFiles::default();
        files.insert("companies/x.toml", MINI);
        let kb = Kb::load(&files).unwrap();
        assert_eq!(kb.company("acme").unwrap().short, "Acme");
        assert_eq!(kb.company_by_name("ACME").unwrap().id, "acme");
    }
}
