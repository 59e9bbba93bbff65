//! A small knowledge base for tests (companies, lists, brands) plus the shipped policies, and
//! builders for devices and sites.
#![allow(dead_code)]

use camtrace_kb::{Kb, KbFiles};
use camtrace_model::{
    Device, DeviceClass, DeviceStatus, NetworkSegment, Organisation, SensitivityCriteria, Site,
    Waiver,
};
use camtrace_policy::{DeviceFacts, IdentSummary, PolicySet};
use chrono::NaiveDate;
use std::sync::Arc;

pub const LISTS: &str = r#"
[[list]]
id = "fcc-covered"
name = "FCC Covered List"
authority = "FCC"
jurisdiction = "US"
source = "test"
as_of = 2026-11-28
affiliates = { text = "read to include the named companies and their subsidiaries and affiliates", source = "test", as_of = 2026-11-28 }

[[list]]
id = "ndaa-889"
name = "NDAA FY2019 section 889 covered entities"
authority = "US Congress"
jurisdiction = "US"
source = "test"
as_of = 2026-11-28
affiliates = { text = "(or any subsidiary or affiliate of such entities)", source = "test", as_of = 2026-11-28 }

[[list]]
id = "ca-ica-2025"
name = "Investment Canada Act order 2025"
authority = "Government of Canada"
jurisdiction = "CA"
source = "test"
as_of = 2026-11-28
"#;

pub const COMPANIES: &str = r#"
[[company]]
id = "hikvision"
name = "Hangzhou Hikvision Digital Technology Co., Ltd."
short = "Hikvision"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "PRC company controlled by CETC"
source = "hikvision-source"
as_of = 2026-11-28
[[company.list]]
list = "ndaa-889"
added = 2018-08-13
source = "ndaa-source"
as_of = 2026-11-28
[[company.list]]
list = "fcc-covered"
added = 2021-03-12
scope = "to the extent it is used for public safety ..."
source = "fcc-source"
as_of = 2026-11-28
[[company.list]]
list = "ca-ica-2025"
added = 2025-06-27
source = "ca-source"
as_of = 2026-11-28

[[company]]
id = "ezviz"
name = "EZVIZ"
short = "EZVIZ"
country = "CN"
parent = "hikvision"
prc_nil = "yes"
prc_nil_reason = "PRC subsidiary of Hikvision"
source = "ezviz-source"
as_of = 2026-11-28

[[company]]
id = "dahua"
name = "Zhejiang Dahua Technology Co., Ltd."
short = "Dahua"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "PRC company"
source = "dahua-source"
as_of = 2026-11-28
[[company.list]]
list = "ndaa-889"
added = 2018-08-13
source = "ndaa-source"
as_of = 2026-11-28
[[company.list]]
list = "fcc-covered"
added = 2021-03-12
scope = "to the extent it is used for public safety ..."
source = "fcc-source"
as_of = 2026-11-28

[[company]]
id = "huawei"
name = "Huawei Technologies Co., Ltd."
short = "Huawei"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "PRC company"
source = "huawei-source"
as_of = 2026-11-28
[[company.list]]
list = "fcc-covered"
added = 2021-03-12
source = "fcc-source"
as_of = 2026-11-28

[[company]]
id = "skywatch"
name = "Skywatch"
short = "Skywatch"
country = "TW"
prc_nil = "no"
prc_nil_reason = "Taiwanese company"
source = "skywatch-source"
as_of = 2026-11-28

[[company]]
id = "canon"
name = "Canon Inc."
short = "Canon"
country = "JP"
prc_nil = "no"
prc_nil_reason = "Japanese company"
source = "canon-source"
as_of = 2026-11-28

[[company]]
id = "axis"
name = "Axis Communications AB"
short = "Axis"
country = "SE"
parent = "canon"
prc_nil = "no"
prc_nil_reason = "Swedish company owned by Canon"
source = "axis-source"
as_of = 2026-11-28

[[company]]
id = "tp-link"
name = "TP-Link"
short = "TP-Link"
country = "US"
prc_nil = "unknown"
prc_nil_reason = "split from the Shenzhen company in 2022; links disputed"
source = "tplink-source"
as_of = 2026-11-28
"#;

pub const BRANDS: &str = r#"
[[brand]]
id = "lorex"
name = "Lorex"
source = "lorex-source"
as_of = 2026-11-28
[[brand.owner]]
company = "dahua"
relationship = "subsidiary"
from = 2018-01-01
to = 2022-11-24
confidence = "strong"
source = "lorex-dahua-source"
as_of = 2026-11-28
[[brand.owner]]
company = "skywatch"
relationship = "subsidiary"
from = 2022-11-24
confidence = "strong"
source = "lorex-skywatch-source"
as_of = 2026-11-28
"#;

pub fn files() -> KbFiles {
    let mut f = KbFiles::embedded();
    f.insert("lists.toml", LISTS);
    f.insert("companies/test.toml", COMPANIES);
    f.insert("brands/test.toml", BRANDS);
    f
}

/// Only the test vendor data (no embedded vendor files) plus the embedded policies.
pub fn kb() -> Kb {
    let mut f = KbFiles::default();
    f.insert("lists.toml", LISTS);
    f.insert("companies/test.toml", COMPANIES);
    f.insert("brands/test.toml", BRANDS);
    Kb::load(&f).unwrap_or_else(|e| panic!("{e}"))
}

pub fn policies() -> PolicySet {
    PolicySet::load(&KbFiles::embedded()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn org(id: &str, kind: &str, country: &str) -> Arc<Organisation> {
    Arc::new(Organisation {
        id: id.into(),
        name: id.into(),
        parent: None,
        kind: (!kind.is_empty()).then(|| kind.to_string()),
        country: (!country.is_empty()).then(|| country.to_string()),
    })
}

pub fn site(id: &str, org: &str, criteria: SensitivityCriteria, tags: &[&str]) -> Arc<Site> {
    Arc::new(Site {
        id: id.into(),
        organisation: org.into(),
        name: id.into(),
        address: None,
        criteria,
        classification: None,
        government_building: false,
        tags: tags.iter().map(|s| s.to_string()).collect(),
    })
}

pub fn ministerial() -> SensitivityCriteria {
    SensitivityCriteria {
        ministerial_use: true,
        ..Default::default()
    }
}

pub fn net(id: &str, core: bool) -> Arc<NetworkSegment> {
    Arc::new(NetworkSegment {
        id: id.into(),
        site: "s".into(),
        name: id.into(),
        cidrs: Vec::new(),
        core,
        internet_exposed: false,
    })
}

pub fn device(id: &str, status: DeviceStatus) -> Device {
    Device {
        id: id.into(),
        site: "s".into(),
        zone: None,
        network: None,
        brand: None,
        maker: None,
        model: None,
        firmware: None,
        class: DeviceClass::Camera,
        mac: None,
        addresses: Vec::new(),
        status,
        install_date: None,
        scheduled_upgrade: None,
        cost_device: None,
        cost_labour: None,
        confidence: None,
        notes: None,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn facts(
    id: &str,
    maker: Option<&str>,
    brand: Option<&str>,
    confidence: f64,
    status: DeviceStatus,
    site: &Arc<Site>,
    org: &Arc<Organisation>,
    network: Option<&Arc<NetworkSegment>>,
) -> DeviceFacts {
    let mut d = device(id, status);
    d.site = site.id.clone();
    DeviceFacts {
        device: d,
        site: site.clone(),
        org: Some(org.clone()),
        network: network.cloned(),
        ident: IdentSummary {
            maker: maker.map(str::to_string),
            brand: brand.map(str::to_string),
            model: None,
            confidence,
            evidence: vec![format!(
                "http: Server: test-{id} [kb/signatures/test.toml:1]"
            )],
            first_seen: None,
        },
    }
}

pub fn waiver(id: &str, device: &str, rule: &str, expires: &str) -> Waiver {
    Waiver {
        id: id.into(),
        device_id: device.into(),
        rule_id: rule.into(),
        reason: "kept on for safety until the replacement arrives".into(),
        approver: "j.smith".into(),
        created_at: "2024-01-01T00:00:00Z".into(),
        expires_on: date(expires),
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    }
}
