//! Identification throughput over a realistic mixed stream, side by side with the naive
//! approach (every signature regex tried one by one).
//!
//! Run: `cargo bench -p camtrace-identify --bench identify`
//! (results and exact command in docs/bench/identify.md).

use camtrace_identify::Engine;
use camtrace_kb::Kb;
use camtrace_model::{observation::Headers, Observation, ObservationKind};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// A small deterministic PRNG (xorshift), so every run sees the same stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const SERVERS: &[&str] = &[
    "App-webs/",
    "Hikvision-Webs",
    "DNVRS-Webs",
    "Webs",
    "nginx/1.24.0",
    "Apache/2.4.57 (Debian)",
    "lighttpd/1.4.59",
    "Microsoft-IIS/10.0",
    "uc-httpd 1.0.0",
    "HP HTTP Server; HP LaserJet M404dn; UPnP/1.0",
    "AvigilonOnvifNvt/4.10",
    "VCS-VideoJet-Webserver",
    "Boa/0.94.14rc21",
    "GoAhead-Webs",
    "thttpd/2.25b",
    "MWS 0.01",
    "debut/1.30",
    "Linux/4.14.98-axis8, UPnP/1.0, Portable SDK for UPnP devices/1.8.7",
];
const RTSP: &[&str] = &[
    "Dahua Rtsp Server",
    "Hipcam RealServer/V1.0",
    "GStreamer RTSP server",
    "Avigilon RTSP Server",
    "H264DVR 1.0",
    "Rtsp Server/2.0",
];
const REALMS: &[&str] = &[
    "Digest realm=\"Hikvision\", nonce=\"abc\"",
    "Basic realm=\"device\"",
    "Basic realm=\"AXIS_ACCC8E010203\"",
    "Digest realm=\"Login to ND0123\"",
    "Basic realm=\"router\"",
];
const SUBJECTS: &[&str] = &[
    "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN",
    "CN=localhost",
    "CN=printer.example,O=Example",
    "CN=axis-accc8e010203,O=Axis Communications AB",
    "CN=*.example.org,O=Example Org,C=GB",
];
const DNS: &[&str] = &[
    "litedev.ezvizlife.com",
    "www.easy4ipcloud.com",
    "api.hik-connect.com",
    "time.windows.com",
    "pool.ntp.org",
    "updates.example.com",
    "www.google.com",
];
const TELNET: &[&str] = &[
    "192.0.0.64 login: ",
    "BusyBox v1.20.2 login: ",
    "Welcome to the router\r\nlogin: ",
    "(none) login: ",
];
const MACS: &[&str] = &[
    "44:19:b6:01:02:03",
    "e0:50:8b:11:22:33",
    "ac:cc:8e:00:00:01",
    "00:12:34:56:78:9a",
    "f8:ce:07:aa:bb:cc",
    "00:1b:63:84:45:e6",
];

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One banner-kind observation (http/rtsp/tls/dns/telnet).
fn banner(r: &mut Rng, target: String) -> Observation {
    let kind = match r.next() % 5 {
        0 => ObservationKind::Http {
            port: Some(80),
            tls: None,
            path: Some("/".into()),
            status: Some(200),
            headers: headers(&[
                ("Server", r.pick(SERVERS)),
                ("Content-Type", "text/html"),
                ("Connection", "close"),
            ]),
            title: Some(
                r.pick(&[
                    "Login",
                    "",
                    "Welcome to nginx!",
                    "NETSurveillance WEB",
                    "Web Client",
                ])
                .into(),
            ),
            body: None,
            favicon_md5: None,
        },
        1 => ObservationKind::Rtsp {
            port: Some(554),
            status: Some(401),
            headers: headers(&[
                ("Server", r.pick(RTSP)),
                ("WWW-Authenticate", r.pick(REALMS)),
                ("CSeq", "1"),
            ]),
        },
        2 => ObservationKind::Tls {
            port: Some(443),
            subject: r.pick(SUBJECTS).into(),
            issuer: r.pick(SUBJECTS).into(),
            san: vec![],
        },
        3 => ObservationKind::Dns {
            query: r.pick(DNS).into(),
        },
        _ => ObservationKind::Telnet {
            banner: r.pick(TELNET).into(),
        },
    };
    Observation::new(target, kind)
}

/// A mixed stream: 80% banner kinds, the rest structured replies and MACs.
fn mixed(n: usize, targets: usize) -> Vec<Observation> {
    let mut r = Rng(0x9E3779B97F4A7C15);
    (0..n)
        .map(|i| {
            let t = format!("10.{}.{}.{}", (i % targets) / 65536, ((i % targets) / 256) % 256, (i % targets) % 256);
            match r.next() % 10 {
                0 => Observation::new(t, ObservationKind::Mac { mac: r.pick(MACS).into() }),
                1 => match r.next() % 3 {
                    0 => Observation::new(t, ObservationKind::Sadp {
                        payload: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><Uuid>1</Uuid><Types>inquiry</Types><DeviceType>44322</DeviceType><DeviceDescription>DS-7804HQH-K1</DeviceDescription><DeviceSN>DS-7804HQH-K10420190822CCCHD53257168WCVU</DeviceSN><MAC>68-6d-bc-ee-f8-f0</MAC><SoftwareVersion>V3.5.38build 191215</SoftwareVersion><OEMInfo>N/A</OEMInfo><AnalogChannelNum>4</AnalogChannelNum></ProbeMatch>".into(),
                    }),
                    1 => Observation::new(t, ObservationKind::Dhip {
                        payload_b64: None,
                        payload: Some("{\"mac\":\"e0:50:8b:11:22:33\",\"method\":\"client.notifyDevInfo\",\"params\":{\"deviceInfo\":{\"DeviceClass\":\"IPC\",\"DeviceType\":\"IPC-HFW2431S-S-S2\",\"Vendor\":\"General\",\"Version\":\"2.800.0000000.16.R\"}}}".into()),
                    }),
                    _ => Observation::new(t, ObservationKind::OnvifProbeMatch {
                        scopes: vec!["onvif://www.onvif.org/name/CP%20PLUS".into(), "onvif://www.onvif.org/hardware/CP-UNC-TA21PL3".into(), "onvif://www.onvif.org/type/video_encoder".into()],
                        types: vec!["dn:NetworkVideoTransmitter".into()],
                        xaddrs: vec!["http://192.0.2.1/onvif/device_service".into()],
                        endpoint: None,
                    }),
                },
                _ => banner(&mut r, t),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let kb = Kb::embedded().expect("embedded kb");
    let engine = Engine::new(&kb).expect("engine");
    // The same knowledge base without the vendored recog databases and component tells: the
    // engine as it was before recog, measured side by side in the same run.
    let mut kb_only = kb.clone();
    kb_only.recog = Default::default();
    let engine_kb_only = Engine::new(&kb_only).expect("engine");
    let n = 100_000;
    let mut r = Rng(42);
    let banners: Vec<Observation> = (0..n)
        .map(|i| banner(&mut r, format!("t{}", i % 20_000)))
        .collect();
    let stream = mixed(n, 20_000);

    let mut g = c.benchmark_group("match_banner_kinds");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("engine_regexset", n), |b| {
        b.iter(|| {
            banners
                .iter()
                .map(|o| engine.matches(black_box(&o.kind)).len())
                .sum::<usize>()
        })
    });
    g.bench_function(BenchmarkId::new("engine_regexset_without_recog", n), |b| {
        b.iter(|| {
            banners
                .iter()
                .map(|o| engine_kb_only.matches(black_box(&o.kind)).len())
                .sum::<usize>()
        })
    });
    // The naive baseline over camtrace's own signatures only (with recog's ~1,300 patterns
    // tried one by one it takes minutes per sample).
    g.bench_function(BenchmarkId::new("naive_one_by_one_without_recog", n), |b| {
        b.iter(|| {
            banners
                .iter()
                .map(|o| engine_kb_only.matches_naive(black_box(&o.kind)).len())
                .sum::<usize>()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("identify_all_mixed");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("engine", n), |b| {
        b.iter(|| engine.identify_all(black_box(&stream)).len())
    });
    g.bench_function(BenchmarkId::new("engine_without_recog", n), |b| {
        b.iter(|| engine_kb_only.identify_all(black_box(&stream)).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
