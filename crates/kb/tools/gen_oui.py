#!/usr/bin/env python3
"""Generate kb/oui/*.toml from the IEEE Registration Authority CSV listings.

Usage: python3 crates/kb/tools/gen_oui.py IEEE_DIR [KB_OUI_DIR]

IEEE_DIR holds oui.csv (MA-L), oui28.csv (MA-M) and oui36.csv (MA-S) as published by the IEEE RA
(here: the copy in the rs-oui-data repository). The product never reads IEEE_DIR: only the
generated TOML is embedded. IAB and CID assignments are not MAC prefixes of the MA-L/MA-M/MA-S kind
and are skipped.

Each rule maps exact (case-insensitive) IEEE organisation names to a knowledge-base company. Names
are matched exactly, never by substring, so a name collision ("Shanghai Dahua Scale Factory") cannot
slip in. Every matched name becomes one [[block]] per registry with the registered name as
`assignee`. The script fails if a rule matches nothing or a prefix would map to two companies.
"""
import csv
import os
import sys

SOURCE = "IEEE Registration Authority public listing (MA-L oui.csv / MA-M / MA-S), via rs-oui-data; https://github.com/jwalton/rs-oui-data"
AS_OF = "2026-11-28"

# file -> [(company, [exact organisation names], not_surveillance_alone, note)]
RULES = {
    "hikvision.toml": [
        ("hikvision", ["Hangzhou Hikvision Digital Technology Co.,Ltd."], False, None),
        ("hikvision", ["Prama Hikvision India Private Limited"], False,
         "Prama Hikvision India (Hikvision JV in India)."),
        ("ezviz", ["Hangzhou Ezviz Software Co.,Ltd."], False, "EZVIZ, Hikvision's consumer subsidiary."),
        ("hikrobot", ["Hangzhou Hikrobot Technology Co., Ltd."], False,
         "Hikrobot (Hikvision group): machine vision and robots rather than CCTV."),
    ],
    "dahua.toml": [
        ("dahua", ["Zhejiang Dahua Technology Co., Ltd.", "ZHEJIANG DAHUA TECHNOLOGYCO.,LTD"], False, None),
        ("dahua", ["ZHEJIANG DAHUA ZHILIAN CO.,LTD"], False, "Dahua group entity (Zhilian)."),
        ("huacheng", ["Hangzhou Huacheng Network Technology Co.,Ltd",
                      "hangzhou huacheng network technology co., ltd"], False,
         "Imou devices; Dahua ownership of Huacheng is believed, not independently verified."),
    ],
    "prc-other.toml": [
        ("uniview", ["Zhejiang Uniview Technologies Co.,Ltd.", "Zhejiang Uniview Technologies Co., Ltd."], False, None),
        ("hytera", ["Hytera Communications Co .,ltd", "Hytera Communications Corporation Limited"], True,
         "Mostly two-way radio equipment."),
        ("tiandy", ["Tiandy Technologies CO.,LTD", "Tiandy Technologies Co.,LTD"], False, None),
        ("kedacom", ["Suzhou Keda Technology CO.,Ltd"], False, None),
        ("milesight", ["Xiamen Milesight IoT Co., Ltd."], False, "Milesight also makes IoT sensors and routers."),
        ("milesight", ["Milesight Taiwan"], False, "Milesight's Taiwan entity."),
        ("reolink", ["Reolink Innovation Limited"], False, None),
        ("hisilicon", ["Hisilicon Technologies Co., Ltd"], True, "Huawei's chip designer."),
    ],
    "huawei.toml": [
        ("huawei", ["HUAWEI TECHNOLOGIES CO.,LTD", "Huawei Technologies Co., Ltd."], True,
         "Mostly telecom and network equipment: a prefix alone is not surveillance equipment."),
        ("huawei", ["Huawei Device Co., Ltd."], True, "Huawei's consumer-device company (phones, tablets, routers)."),
        ("huawei", ["Huawei Symantec Technologies Co.,Ltd."], True,
         "Former Huawei-Symantec joint venture, grouped with Huawei as in the restricted-vendor OUI table."),
    ],
    "zte.toml": [
        ("zte", ["zte corporation"], True,
         "Mostly telecom and network equipment: a prefix alone is not surveillance equipment."),
        ("zte", ["SHANGHAI ZTE TECHNOLOGIES CO.,LTD"], True,
         "Grouped with ZTE as in the restricted-vendor OUI table (name match)."),
    ],
    "tp-link.toml": [
        ("tp-link", ["TP-LINK TECHNOLOGIES CO.,LTD."], True,
         "TP-Link Technologies (Shenzhen). Mostly network equipment (routers, switches, Wi-Fi)."),
        ("tp-link-systems", ["TP-Link Systems Inc", "TP-Link Systems Inc."], True,
         "TP-Link Systems Inc. (US). Mostly network equipment (routers, switches, Wi-Fi)."),
    ],
    "western.toml": [
        ("axis", ["Axis Communications AB"], False, None),
        ("bosch", ["Bosch Security Systems, Inc.", "Bosch Security Systems"], False,
         "Bosch security business only (other Bosch units are not included)."),
        ("hanwha-vision", ["SAMSUNG TECHWIN CO.,LTD"], False, "Former name of Hanwha Vision."),
        ("hanwha-vision", ["HANWHA VISION VIETNAM COMPANY LIMITED", "Hanwha Vision VietNam"], False,
         "Hanwha Vision's Vietnamese factory."),
        ("avigilon", ["Avigilon Alta"], False, "Avigilon Alta (cloud access control and video)."),
        ("mobotix", ["Mobotix AG"], False, None),
        ("vivotek", ["Vivotek, Inc."], False, None),
        ("i-pro", ["i-PRO Co., Ltd."], False, None),
        ("verkada", ["Verkada Inc"], False, None),
        ("genetec", ["Genetec Inc."], False, None),
        ("honeywell", ["Honeywell Video Systems"], False, "Honeywell's video business only."),
        ("motorola-solutions", ["Motorola Solutions Inc."], True, "Mostly radio equipment."),
        ("sony", ["Sony Corporation", "Sony Imaging Products & Solutions Inc."], True,
         "Mostly consumer electronics."),
        ("ubiquiti", ["Ubiquiti Inc"], True, "Mostly network equipment (UniFi)."),
        ("canon", ["CANON INC."], True, "Mostly printers and cameras for consumers."),
        ("konica-minolta", ["KONICA MINOLTA HOLDINGS, INC."], True, "Printers."),
        ("brother", ["Brother Industries, LTD.", "Brother industries, LTD."], True, "Printers."),
        ("hp", ["HP Inc."], True, "Printers and PCs."),
        ("hp", ["Hewlett Packard"], True,
         "Registered to the pre-2015 Hewlett-Packard; printers and PCs among others (not HPE's later blocks)."),
    ],
    "other.toml": [
        ("lorex", ["Lorex Technology Inc."], False, None),
        ("swann", ["Swann communications Pty Ltd", "SWANN COMMUNICATIONS PTY LTD"], False, None),
        ("amcrest", ["Amcrest Technologies"], False, None),
        ("cp-plus", ["Aditya Infotech Ltd."], False, "Aditya Infotech Ltd., owner of the CP PLUS brand."),
        ("cp-plus", ["CP PLUS GMBH & CO. KG"], False, None),
        ("intelbras", ["Intelbras"], False, "Intelbras also makes telephony and network equipment."),
        ("geovision", ["GeoVision Inc."], False, None),
    ],
}

HEADER = """# GENERATED by crates/kb/tools/gen_oui.py from the IEEE Registration Authority listings
# (MA-L oui.csv, MA-M oui28.csv, MA-S oui36.csv, via rs-oui-data). Do not edit by hand: change the
# rules in the script and regenerate. `assignee` is the organisation name as registered.
"""

REGISTRIES = [("MA-L", "oui.csv"), ("MA-M", "oui28.csv"), ("MA-S", "oui36.csv")]


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ieee = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "kb", "oui")
    by_name = {}  # lower name -> [(registry, assignee, prefix)]
    for reg, fname in REGISTRIES:
        with open(os.path.join(ieee, fname), newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                name = row["Organization Name"].strip()
                by_name.setdefault(name.lower(), []).append((row["Registry"].strip(), name, row["Assignment"].strip().upper()))
    owner = {}
    os.makedirs(out_dir, exist_ok=True)
    for fname, rules in RULES.items():
        lines = [HEADER]
        for company, names, nsa, note in rules:
            groups = {}  # (registry, assignee) -> prefixes
            for n in names:
                hits = by_name.get(n.lower())
                if not hits:
                    sys.exit(f"rule for {company}: no IEEE assignment named {n!r}")
                for reg, assignee, prefix in hits:
                    if prefix in owner and owner[prefix] != company:
                        sys.exit(f"prefix {prefix} maps to {owner[prefix]} and {company}")
                    owner[prefix] = company
                    groups.setdefault((reg, assignee), []).append(prefix)
            for (reg, assignee), prefixes in sorted(groups.items()):
                lines.append("[[block]]")
                lines.append(f"company = {q(company)}")
                lines.append(f"registry = {q(reg)}")
                lines.append(f"assignee = {q(assignee)}")
                if nsa:
                    lines.append("not_surveillance_alone = true")
                if note:
                    lines.append(f"note = {q(note)}")
                lines.append(f"source = {q(SOURCE)}")
                lines.append(f"as_of = {AS_OF}")
                lines.append("prefixes = [")
                ps = sorted(set(prefixes))
                for i in range(0, len(ps), 8):
                    lines.append("  " + ", ".join(q(p) for p in ps[i:i + 8]) + ",")
                lines.append("]")
                lines.append("")
        with open(os.path.join(out_dir, fname), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    counts = {}
    for c in owner.values():
        counts[c] = counts.get(c, 0) + 1
    for c in sorted(counts):
        print(f"{c}: {counts[c]}")


if __name__ == "__main__":
    main()
