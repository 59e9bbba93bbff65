//! Property tests: a register written as CSV or JSON reads back equal; no reader panics on
//! arbitrary bytes.

use camtrace_ingest::register::{
    read_csv, read_json, write_csv, write_json, ReadOptions, Register,
};
use camtrace_model::*;
use chrono::NaiveDate;
use proptest::prelude::*;

fn id() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}"
}

/// Free text as people type it: letters, digits, punctuation, commas, quotes, accents; no
/// leading/trailing spaces (cells are trimmed) and no `;` in list items.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ,.'\"()/&£é-]{0,20}[A-Za-z0-9]"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn item() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ./:-]{0,12}[A-Za-z0-9]"
}

fn date() -> impl Strategy<Value = Option<NaiveDate>> {
    prop::option::of(
        (2000i32..2040, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()),
    )
}

fn money() -> impl Strategy<Value = Option<f64>> {
    prop::option::of((0u32..1_000_000, 0u32..100).prop_map(|(a, c)| a as f64 + c as f64 / 100.0))
}

fn class() -> impl Strategy<Value = DeviceClass> {
    prop::sample::select(DeviceClass::ALL.to_vec())
}

fn status() -> impl Strategy<Value = DeviceStatus> {
    prop::sample::select(vec![
        DeviceStatus::Planned,
        DeviceStatus::Installed,
        DeviceStatus::Disconnected,
        DeviceStatus::Removed,
    ])
}

fn mac() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::array::uniform6(any::<u8>()).prop_map(|b| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }))
}

prop_compose! {
    fn register()(
        org_ids in prop::collection::btree_set(id(), 1..4),
        site_ids in prop::collection::btree_set(id(), 1..4),
        n_dev in 0usize..12,
        seed in any::<u64>(),
        names in prop::collection::vec(text(), 40),
        opts in prop::collection::vec(opt_text(), 80),
        flags in prop::collection::vec(any::<bool>(), 80),
        dates in prop::collection::vec(date(), 40),
        moneys in prop::collection::vec(money(), 40),
        classes in prop::collection::vec(class(), 12),
        statuses in prop::collection::vec(status(), 12),
        macs in prop::collection::vec(mac(), 12),
        lists in prop::collection::vec(prop::collection::vec(item(), 0..3), 40),
        conf in prop::collection::vec(prop::option::of(0u32..=100), 12),
    ) -> Register {
        let orgs: Vec<String> = org_ids.into_iter().collect();
        let sites: Vec<String> = site_ids.into_iter().map(|s| format!("s-{s}")).collect();
        let pick = |i: usize, n: usize| ((seed as usize).wrapping_add(i * 7919)) % n;
        let organisations: Vec<Organisation> = orgs.iter().enumerate().map(|(i, o)| Organisation {
            id: o.clone(),
            name: names[i].clone(),
            // Parent: an earlier organisation (no cycles).
            parent: if i > 0 && flags[i] { Some(orgs[pick(i, i)].clone()) } else { None },
            kind: opts[i].clone(),
            country: opts[i + 10].clone(),
        }).collect();
        let sites_v: Vec<Site> = sites.iter().enumerate().map(|(i, s)| Site {
            id: s.clone(),
            organisation: orgs[pick(i, orgs.len())].clone(),
            name: names[10 + i].clone(),
            address: opts[20 + i].clone(),
            criteria: SensitivityCriteria {
                secret_or_above: flags[20 + i],
                dv_significant: flags[30 + i],
                ministerial_use: flags[40 + i],
                socpa_2005: flags[50 + i],
            },
            classification: opts[30 + i].clone(),
            government_building: flags[60 + i],
            tags: lists[i].clone(),
        }).collect();
        let zones: Vec<Zone> = sites.iter().enumerate().filter(|(i, _)| flags[5 + i]).map(|(i, s)| Zone {
            id: format!("z-{s}"), site: s.clone(), name: names[20 + i].clone(),
        }).collect();
        let networks: Vec<NetworkSegment> = sites.iter().enumerate().filter(|(i, _)| flags[15 + i]).map(|(i, s)| NetworkSegment {
            id: format!("n-{s}"), site: s.clone(), name: names[25 + i].clone(),
            cidrs: lists[10 + i].clone(), core: flags[70 + i], internet_exposed: flags[75 + i],
        }).collect();
        let devices: Vec<Device> = (0..n_dev).map(|i| {
            let site = sites[pick(i + 3, sites.len())].clone();
            let zone = zones.iter().find(|z| z.site == site).map(|z| z.id.clone());
            let network = networks.iter().find(|n| n.site == site).map(|n| n.id.clone());
            Device {
                id: format!("d-{i}"),
                site,
                zone,
                network,
                brand: opts[40 + i].clone(),
                maker: opts[52 + i].clone().map(|m| m.to_ascii_lowercase()),
                model: opts[64 + i % 16].clone(),
                firmware: None,
                class: classes[i],
                mac: macs[i].clone(),
                addresses: lists[20 + i].clone(),
                status: statuses[i],
                install_date: dates[i],
                scheduled_upgrade: dates[20 + i],
                cost_device: moneys[i],
                cost_labour: moneys[20 + i],
                confidence: conf[i].map(|c| c as f64 / 100.0),
                notes: opts[i + 5].clone(),
            }
        }).collect();
        Register { organisations, sites: sites_v, zones, networks, devices }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn csv_round_trips(reg in register()) {
        let mut buf = Vec::new();
        write_csv(&reg, &mut buf).unwrap();
        let back = read_csv(buf.as_slice(), &ReadOptions::default()).unwrap();
        prop_assert!(back.skipped.is_empty());
        prop_assert_eq!(back.register.sorted(), reg.sorted());
    }

    #[test]
    fn json_round_trips(reg in register()) {
        let mut buf = Vec::new();
        write_json(&reg, &mut buf).unwrap();
        let back = read_json(buf.as_slice(), &ReadOptions::default()).unwrap();
        prop_assert_eq!(back.register, reg);
    }

    #[test]
    fn readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_csv(bytes.as_slice(), &ReadOptions { skip_bad: true, ..Default::default() });
        let _ = read_json(bytes.as_slice(), &ReadOptions::default());
        let _: Vec<_> = camtrace_ingest::nmap::read(bytes.as_slice(), "x").take(1000).collect();
        let _: Vec<_> = camtrace_ingest::jsonl::read(bytes.as_slice()).take(1000).collect();
        if let Ok(r) = camtrace_ingest::pcap::read(std::io::Cursor::new(bytes.clone()), "x") {
            let _: Vec<_> = r.take(1000).collect();
        }
    }

    #[test]
    fn pcap_reader_survives_damaged_captures(cut in 0usize..4096, flip in prop::collection::vec((0usize..4096, any::<u8>()), 0..16)) {
        let mut w = camtrace_ingest::synth::PcapWriter::new(Vec::new()).unwrap();
        let m = [0x44, 0x19, 0xb6, 0, 0, 1];
        w.packet(1, &camtrace_ingest::synth::dhcp_request(m, [192, 0, 2, 1], "udhcp", "cam")).unwrap();
        w.packet(2, &camtrace_ingest::synth::mdns_answer(m, [192, 0, 2, 1], "_http._tcp.local", "x._http._tcp.local", &["a=b"])).unwrap();
        w.packet(3, &camtrace_ingest::synth::dns_query(m, [192, 0, 2, 1], [198, 51, 100, 1], "example.com")).unwrap();
        let mut bytes = w.finish().unwrap();
        for (i, b) in flip {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        bytes.truncate(cut.max(24).min(bytes.len()));
        if let Ok(r) = camtrace_ingest::pcap::read(std::io::Cursor::new(bytes), "x") {
            let _: Vec<_> = r.take(1000).collect();
        }
    }
}
