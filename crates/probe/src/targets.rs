//! Target specifications in nmap syntax, expanded lazily.
//!
//! Accepted forms (one per argument, or several per line in an `-iL` file):
//! * an address: `127.0.0.1`, `::1`;
//! * a CIDR block: `127.20.0.0/16`, `fd00::/120` (host bits are ignored, as nmap does);
//! * IPv4 octet ranges: `127.20.0.1-254`, `127.20.1-3.1-10`, `127.0.0.1,3,7-9`, `127.0.0.*`,
//!   open ends `127.0.0.-5` / `127.0.0.250-`;
//! * a host name, optionally with a prefix (`localhost`, `cam.example/30`), resolved once.
//!
//! Nothing is materialised: a `/8` is an arithmetic range, iteration is lazy, exclusions are
//! membership tests, and an address covered by an earlier specification is not produced twice.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::Path;

/// Longest target / exclude / scope file accepted.
pub const MAX_LIST_FILE: u64 = 64 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("invalid target `{0}`: {1}")]
    Invalid(String, String),
    #[error("cannot resolve host name `{0}`: {1}")]
    Resolve(String, String),
    #[error("cannot read {0}: {1}")]
    File(String, String),
    #[error(
        "target `{target}` leaves the scope: {address} is not inside any network of the scope file"
    )]
    OutOfScope { target: String, address: IpAddr },
    #[error(
        "{count} hosts to scan, more than --max-hosts {max}; narrow the targets or pass --force"
    )]
    TooMany { count: u128, max: u128 },
    #[error("no targets given")]
    Empty,
}

/// Address family of a specification. All arithmetic is done on `u128`; IPv4 uses the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

fn to_u128(ip: IpAddr) -> (Family, u128) {
    match ip {
        IpAddr::V4(a) => (Family::V4, u32::from(a) as u128),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn from_u128(f: Family, v: u128) -> IpAddr {
    match f {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// One parsed target specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The text the user wrote (used in messages).
    pub text: String,
    kind: SpecKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpecKind {
    /// A contiguous range of addresses, inclusive.
    Range { family: Family, lo: u128, hi: u128 },
    /// IPv4 with a set of values per octet; each set is sorted, merged inclusive ranges.
    Octets([Vec<(u8, u8)>; 4]),
}

impl Spec {
    /// Parse one specification that is not a host name. Returns `Ok(None)` when the text looks
    /// like a host name (letters, no address syntax).
    pub fn parse_literal(text: &str) -> Result<Option<Spec>, TargetError> {
        let t = text.trim();
        let bad = |why: &str| TargetError::Invalid(t.to_string(), why.to_string());
        if t.is_empty() {
            return Err(bad("empty"));
        }
        if t.len() > 300 {
            return Err(bad("too long"));
        }
        let (addr_part, prefix) = match t.split_once('/') {
            Some((a, p)) => {
                let p: u8 = p
                    .parse()
                    .map_err(|_| bad("prefix length is not a number"))?;
                (a, Some(p))
            }
            None => (t, None),
        };
        if let Ok(ip) = addr_part.parse::<IpAddr>() {
            return Ok(Some(Self::from_ip_prefix(t, ip, prefix)?));
        }
        // IPv4 octet ranges: four dot-separated parts made of digits , - *
        let parts: Vec<&str> = addr_part.split('.').collect();
        let octety = parts.len() == 4
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ',' | '*'))
            });
        if octety {
            if prefix.is_some() {
                return Err(bad("a prefix length cannot follow octet ranges"));
            }
            let mut sets: [Vec<(u8, u8)>; 4] = Default::default();
            for (i, p) in parts.iter().enumerate() {
                sets[i] = parse_octet(p).map_err(|e| bad(&format!("octet {}: {e}", i + 1)))?;
            }
            return Ok(Some(Spec {
                text: t.to_string(),
                kind: SpecKind::Octets(sets),
            }));
        }
        if addr_part.contains(':') || addr_part.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad(
                "not an address, a CIDR block, an octet range or a host name",
            ));
        }
        if !addr_part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(bad(
                "not an address, a CIDR block, an octet range or a host name",
            ));
        }
        Ok(None)
    }

    fn from_ip_prefix(text: &str, ip: IpAddr, prefix: Option<u8>) -> Result<Spec, TargetError> {
        let (family, v) = to_u128(ip);
        let bits = match family {
            Family::V4 => 32u8,
            Family::V6 => 128u8,
        };
        let p = prefix.unwrap_or(bits);
        if p > bits {
            return Err(TargetError::Invalid(
                text.to_string(),
                format!("prefix length {p} is longer than {bits}"),
            ));
        }
        let host_bits = (bits - p) as u32;
        let mask: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let lo = v & !mask;
        let hi = lo | mask;
        let hi = if family == Family::V4 {
            hi & u32::MAX as u128
        } else {
            hi
        };
        Ok(Spec {
            text: text.to_string(),
            kind: SpecKind::Range { family, lo, hi },
        })
    }

    /// A single-address specification (e.g. a resolved host name).
    pub fn single(text: &str, ip: IpAddr) -> Spec {
        let (family, v) = to_u128(ip);
        Spec {
            text: text.to_string(),
            kind: SpecKind::Range {
                family,
                lo: v,
                hi: v,
            },
        }
    }

    /// Number of addresses (duplicates within the spec impossible).
    pub fn len(&self) -> u128 {
        match &self.kind {
            SpecKind::Range { lo, hi, .. } => (hi - lo).saturating_add(1),
            SpecKind::Octets(sets) => sets.iter().map(|s| set_len(s) as u128).product(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn family(&self) -> Family {
        match &self.kind {
            SpecKind::Range { family, .. } => *family,
            SpecKind::Octets(_) => Family::V4,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (f, v) = to_u128(ip);
        match &self.kind {
            SpecKind::Range { family, lo, hi } => f == *family && v >= *lo && v <= *hi,
            SpecKind::Octets(sets) => {
                let IpAddr::V4(a) = ip else { return false };
                a.octets()
                    .iter()
                    .zip(sets.iter())
                    .all(|(o, s)| s.iter().any(|(l, h)| o >= l && o <= h))
            }
        }
    }

    /// Lazy iterator over the addresses of this specification, in ascending order.
    pub fn iter(&self) -> SpecIter<'_> {
        match &self.kind {
            SpecKind::Range { family, lo, hi } => SpecIter::Range {
                family: *family,
                next: Some(*lo),
                hi: *hi,
            },
            SpecKind::Octets(sets) => SpecIter::Octets {
                sets,
                idx: [0; 4],
                cur: [sets[0][0].0, sets[1][0].0, sets[2][0].0, sets[3][0].0],
                done: false,
            },
        }
    }

    /// Contiguous inclusive intervals covering exactly this spec, called with a limit on how
    /// many intervals may be produced (octet specs can be many runs). Returns false if the
    /// limit was hit.
    fn intervals(&self, limit: usize, out: &mut Vec<(u128, u128)>) -> bool {
        match &self.kind {
            SpecKind::Range { lo, hi, .. } => {
                out.push((*lo, *hi));
                true
            }
            SpecKind::Octets(sets) => {
                for &(a0, a1) in &sets[0] {
                    for a in a0..=a1 {
                        for &(b0, b1) in &sets[1] {
                            for b in b0..=b1 {
                                for &(c0, c1) in &sets[2] {
                                    for c in c0..=c1 {
                                        for &(d0, d1) in &sets[3] {
                                            if out.len() >= limit {
                                                return false;
                                            }
                                            let base = u32::from_be_bytes([a, b, c, 0]) as u128;
                                            out.push((base + d0 as u128, base + d1 as u128));
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                true
            }
        }
    }

    fn bounds(&self) -> (u128, u128) {
        match &self.kind {
            SpecKind::Range { lo, hi, .. } => (*lo, *hi),
            SpecKind::Octets(sets) => {
                let lo =
                    u32::from_be_bytes([sets[0][0].0, sets[1][0].0, sets[2][0].0, sets[3][0].0]);
                let last = |s: &Vec<(u8, u8)>| s.last().map(|r| r.1).unwrap_or(0);
                let hi = u32::from_be_bytes([
                    last(&sets[0]),
                    last(&sets[1]),
                    last(&sets[2]),
                    last(&sets[3]),
                ]);
                (lo as u128, hi as u128)
            }
        }
    }
}

fn set_len(s: &[(u8, u8)]) -> u32 {
    s.iter().map(|(l, h)| (*h as u32) - (*l as u32) + 1).sum()
}

fn parse_octet(p: &str) -> Result<Vec<(u8, u8)>, String> {
    let num = |s: &str| -> Result<u8, String> {
        s.parse::<u8>()
            .map_err(|_| format!("`{s}` is not a number from 0 to 255"))
    };
    let mut v: Vec<(u8, u8)> = Vec::new();
    for item in p.split(',') {
        let r = if item == "*" {
            (0, 255)
        } else if let Some((a, b)) = item.split_once('-') {
            let lo = if a.is_empty() { 0 } else { num(a)? };
            let hi = if b.is_empty() { 255 } else { num(b)? };
            if lo > hi {
                return Err(format!("range `{item}` is reversed"));
            }
            (lo, hi)
        } else {
            let n = num(item)?;
            (n, n)
        };
        v.push(r);
    }
    v.sort_unstable();
    let mut merged: Vec<(u8, u8)> = Vec::with_capacity(v.len());
    for (l, h) in v {
        match merged.last_mut() {
            Some(last) if (l as u16) <= last.1 as u16 + 1 => last.1 = last.1.max(h),
            _ => merged.push((l, h)),
        }
    }
    if merged.is_empty() {
        return Err("empty".into());
    }
    Ok(merged)
}

/// Lazy iterator over one specification.
pub enum SpecIter<'a> {
    Range {
        family: Family,
        next: Option<u128>,
        hi: u128,
    },
    Octets {
        sets: &'a [Vec<(u8, u8)>; 4],
        idx: [usize; 4],
        cur: [u8; 4],
        done: bool,
    },
}

impl Iterator for SpecIter<'_> {
    type Item = IpAddr;
    fn next(&mut self) -> Option<IpAddr> {
        match self {
            SpecIter::Range { family, next, hi } => {
                let v = (*next)?;
                *next = if v < *hi { Some(v + 1) } else { None };
                Some(from_u128(*family, v))
            }
            SpecIter::Octets {
                sets,
                idx,
                cur,
                done,
            } => {
                if *done {
                    return None;
                }
                let out = IpAddr::V4(Ipv4Addr::from(*cur));
                // odometer increment, last octet fastest
                let mut i = 3usize;
                loop {
                    let (_, h) = sets[i][idx[i]];
                    if cur[i] < h {
                        cur[i] += 1;
                        break;
                    }
                    if idx[i] + 1 < sets[i].len() {
                        idx[i] += 1;
                        cur[i] = sets[i][idx[i]].0;
                        break;
                    }
                    idx[i] = 0;
                    cur[i] = sets[i][0].0;
                    if i == 0 {
                        *done = true;
                        break;
                    }
                    i -= 1;
                }
                Some(out)
            }
        }
    }
}

/// Parse a list of specifications, resolving host names when `resolve` is true (otherwise a host
/// name is an error).
pub fn parse_specs(items: &[String], resolve: bool) -> Result<Vec<Spec>, TargetError> {
    if resolve {
        parse_targets(items, None, &mut resolve_host)
    } else {
        parse_specs_with(items, &mut |item| {
            Err(TargetError::Invalid(
                item.to_string(),
                "host names are not accepted here".into(),
            ))
        })
    }
}

/// Parse scan targets. With a `scope`, each literal target is checked against it as soon as it
/// is read, and a host name is refused **before** any look-up: its address cannot be known to be
/// in scope without asking DNS, and an out-of-scope name must cause no traffic at all. Without a
/// scope, names go to `resolve` (the system resolver in [`parse_specs`]).
pub fn parse_targets(
    items: &[String],
    scope: Option<&Scope>,
    resolve: &mut dyn FnMut(&str) -> Result<Vec<Spec>, TargetError>,
) -> Result<Vec<Spec>, TargetError> {
    match scope {
        None => parse_specs_with(items, resolve),
        Some(scope) => parse_specs_with(items, &mut |item| {
            Err(TargetError::Invalid(
                item.to_string(),
                "a host name cannot be checked against --scope without a DNS look-up, so none \
                 is made: name the target by address"
                    .into(),
            ))
        })
        .and_then(|specs| {
            for s in &specs {
                scope.check_spec(s)?;
            }
            Ok(specs)
        }),
    }
}

/// Parse items, handing every one that is not an address, block or range to `name`.
fn parse_specs_with(
    items: &[String],
    name: &mut dyn FnMut(&str) -> Result<Vec<Spec>, TargetError>,
) -> Result<Vec<Spec>, TargetError> {
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match Spec::parse_literal(item)? {
            Some(s) => out.push(s),
            None => out.extend(name(item)?),
        }
    }
    Ok(out)
}

/// Resolve a host name (optionally `/prefix`) through the system resolver.
pub fn resolve_host(item: &str) -> Result<Vec<Spec>, TargetError> {
    let (name, prefix) = match item.split_once('/') {
        Some((n, p)) => (
            n,
            Some(p.parse::<u8>().map_err(|_| {
                TargetError::Invalid(item.to_string(), "prefix length is not a number".into())
            })?),
        ),
        None => (item, None),
    };
    let addrs = (name, 0u16)
        .to_socket_addrs()
        .map_err(|e| TargetError::Resolve(name.to_string(), e.to_string()))?;
    // nmap scans the first address of a name; we do the same, preferring IPv4.
    let mut all: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    all.sort_by_key(|a| a.is_ipv6());
    let first = all
        .first()
        .copied()
        .ok_or_else(|| TargetError::Resolve(name.to_string(), "no address".into()))?;
    Ok(vec![Spec::from_ip_prefix(item, first, prefix)?])
}

/// Read whitespace-separated items from a list file (`-` = standard input); `#` starts a comment.
pub fn read_list_file(path: &Path) -> Result<Vec<String>, TargetError> {
    use std::io::Read;
    let name = path.display().to_string();
    let mut text = String::new();
    let res = if name == "-" {
        std::io::stdin()
            .take(MAX_LIST_FILE + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_LIST_FILE + 1).read_to_string(&mut text))
    };
    res.map_err(|e| TargetError::File(name.clone(), e.to_string()))?;
    if text.len() as u64 > MAX_LIST_FILE {
        return Err(TargetError::File(
            name,
            format!("larger than {MAX_LIST_FILE} bytes"),
        ));
    }
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Split comma-separated `--exclude` values (a comma inside an octet range stays part of it when
/// the item is an octet spec, e.g. `127.0.0.1,3` is read as one item only if it parses so).
pub fn split_exclude_arg(arg: &str) -> Vec<String> {
    // nmap: --exclude host1[,host2...]. Octet lists with commas are ambiguous there too; we treat
    // commas as separators unless the whole argument is one valid octet spec.
    if Spec::parse_literal(arg).ok().flatten().is_some() {
        return vec![arg.to_string()];
    }
    arg.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The set of hosts to scan: targets minus exclusions.
#[derive(Debug, Clone, Default)]
pub struct TargetSet {
    pub specs: Vec<Spec>,
    pub excludes: Vec<Spec>,
}

/// Result of a bounded count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exact(u128),
    /// More than the limit given.
    AtLeast(u128),
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Exact(n) => write!(f, "{n}"),
            Count::AtLeast(n) => write!(f, "more than {n}"),
        }
    }
}

impl TargetSet {
    pub fn new(specs: Vec<Spec>, excludes: Vec<Spec>) -> Self {
        Self { specs, excludes }
    }

    /// Build from command-line style items (resolving names).
    pub fn parse(targets: &[String], excludes: &[String]) -> Result<Self, TargetError> {
        let specs = parse_specs(targets, true)?;
        if specs.is_empty() {
            return Err(TargetError::Empty);
        }
        let ex = parse_specs(excludes, true)?;
        Ok(Self::new(specs, ex))
    }

    /// Sum of the sizes of the specifications, before exclusions and de-duplication.
    pub fn upper_bound(&self) -> u128 {
        self.specs
            .iter()
            .fold(0u128, |a, s| a.saturating_add(s.len()))
    }

    /// Whether `ip` is one of the hosts to scan (named by a target, not excluded).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.specs.iter().any(|s| s.contains(ip)) && !self.excludes.iter().any(|e| e.contains(ip))
    }

    /// An owned, fast membership test (hash set for single addresses), for filtering replies.
    pub fn membership(&self) -> Membership {
        let (mut singles, mut ranges) = (std::collections::HashSet::new(), Vec::new());
        for s in &self.specs {
            match s.iter().next() {
                Some(ip) if s.len() == 1 => {
                    singles.insert(ip);
                }
                _ => ranges.push(s.clone()),
            }
        }
        let (mut ex_singles, mut ex_ranges) = (std::collections::HashSet::new(), Vec::new());
        for s in &self.excludes {
            match s.iter().next() {
                Some(ip) if s.len() == 1 => {
                    ex_singles.insert(ip);
                }
                _ => ex_ranges.push(s.clone()),
            }
        }
        Membership {
            singles,
            ranges,
            ex_singles,
            ex_ranges,
        }
    }

    /// Membership index: single addresses in hash maps, ranges in short lists, so a long
    /// `-iL`/`--exclude-file` of addresses stays linear.
    fn index(&self) -> Index<'_> {
        let mut first_single = std::collections::HashMap::new();
        let mut ranges = Vec::new();
        for (i, s) in self.specs.iter().enumerate() {
            if s.len() == 1 {
                if let Some(ip) = s.iter().next() {
                    first_single.entry(ip).or_insert(i);
                }
            } else {
                ranges.push((i, s));
            }
        }
        let mut ex_single = std::collections::HashSet::new();
        let mut ex_ranges = Vec::new();
        for e in &self.excludes {
            match e.iter().next() {
                Some(ip) if e.len() == 1 => {
                    ex_single.insert(ip);
                }
                _ => ex_ranges.push(e),
            }
        }
        Index {
            first_single,
            ranges,
            ex_single,
            ex_ranges,
        }
    }

    /// Lazy iterator over the distinct hosts, targets in the order given, exclusions applied.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let idx = std::sync::Arc::new(self.index());
        self.specs.iter().enumerate().flat_map(move |(i, s)| {
            let idx = idx.clone();
            s.iter().filter(move |ip| idx.keep(i, *ip))
        })
    }

    /// Exact host count if it is at most `limit`, otherwise `AtLeast(limit)`. Iterates at most
    /// `limit + 1` produced hosts plus skipped ones, but never more than `work` addresses
    /// (past that, the upper bound is reported as a lower bound: the caller refuses).
    pub fn count(&self, limit: u128) -> Count {
        let ub = self.upper_bound();
        if self.excludes.is_empty() && self.specs.len() <= 1 {
            return if ub <= limit {
                Count::Exact(ub)
            } else {
                Count::AtLeast(limit)
            };
        }
        let work: u128 = 1 << 26;
        let mut n: u128 = 0;
        let mut seen: u128 = 0;
        let idx = self.index();
        for (i, s) in self.specs.iter().enumerate() {
            for ip in s.iter() {
                seen += 1;
                if seen > work {
                    return Count::AtLeast(limit.min(n));
                }
                if !idx.keep(i, ip) {
                    continue;
                }
                n += 1;
                if n > limit {
                    return Count::AtLeast(limit);
                }
            }
        }
        Count::Exact(n)
    }

    /// Refuse more than `max` hosts unless `force`.
    pub fn check_size(&self, max: u128, force: bool) -> Result<Count, TargetError> {
        if force {
            return Ok(self.count(u128::MAX >> 1));
        }
        match self.count(max) {
            Count::Exact(n) => Ok(Count::Exact(n)),
            Count::AtLeast(_) => Err(TargetError::TooMany {
                count: self.upper_bound(),
                max,
            }),
        }
    }

    /// Every target must be inside the scope (exclusions do not matter: the user named it).
    pub fn check_scope(&self, scope: &Scope) -> Result<(), TargetError> {
        for s in &self.specs {
            scope.check_spec(s)?;
        }
        Ok(())
    }
}

/// See [`TargetSet::membership`].
#[derive(Debug, Clone)]
pub struct Membership {
    singles: std::collections::HashSet<IpAddr>,
    ranges: Vec<Spec>,
    ex_singles: std::collections::HashSet<IpAddr>,
    ex_ranges: Vec<Spec>,
}

impl Membership {
    pub fn contains(&self, ip: IpAddr) -> bool {
        (self.singles.contains(&ip) || self.ranges.iter().any(|s| s.contains(ip)))
            && !self.ex_singles.contains(&ip)
            && !self.ex_ranges.iter().any(|s| s.contains(ip))
    }
}

struct Index<'a> {
    first_single: std::collections::HashMap<IpAddr, usize>,
    ranges: Vec<(usize, &'a Spec)>,
    ex_single: std::collections::HashSet<IpAddr>,
    ex_ranges: Vec<&'a Spec>,
}

impl Index<'_> {
    /// Whether `ip`, produced by spec `i`, is neither excluded nor produced by an earlier spec.
    fn keep(&self, i: usize, ip: IpAddr) -> bool {
        if self.ex_single.contains(&ip) || self.ex_ranges.iter().any(|e| e.contains(ip)) {
            return false;
        }
        if self.first_single.get(&ip).is_some_and(|&j| j < i) {
            return false;
        }
        !self
            .ranges
            .iter()
            .take_while(|(j, _)| *j < i)
            .any(|(_, s)| s.contains(ip))
    }
}

/// An allow-list of networks no target may leave.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
    nets: Vec<IpNet>,
}

impl Scope {
    pub fn from_nets(nets: Vec<IpNet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in &nets {
            match n {
                IpNet::V4(n) => v4.push((
                    u32::from(n.network()) as u128,
                    u32::from(n.broadcast()) as u128,
                )),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Self {
            v4: merge(v4),
            v6: merge(v6),
            nets,
        }
    }

    /// Parse scope items: addresses or CIDR blocks, `#` comments.
    pub fn parse_items(items: &[String]) -> Result<Self, TargetError> {
        let mut nets = Vec::new();
        for it in items {
            let net: IpNet = match it.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match it.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => {
                        return Err(TargetError::Invalid(
                            it.clone(),
                            "scope entries must be addresses or CIDR blocks".into(),
                        ))
                    }
                },
            };
            nets.push(net);
        }
        Ok(Self::from_nets(nets))
    }

    pub fn from_file(path: &Path) -> Result<Self, TargetError> {
        Self::parse_items(&read_list_file(path)?)
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (f, v) = to_u128(ip);
        let list = if f == Family::V4 { &self.v4 } else { &self.v6 };
        list.iter().any(|(l, h)| v >= *l && v <= *h)
    }

    fn first_uncovered(&self, f: Family, lo: u128, hi: u128) -> Option<u128> {
        let list = if f == Family::V4 { &self.v4 } else { &self.v6 };
        let mut cur = lo;
        for (l, h) in list {
            if *h < cur {
                continue;
            }
            if *l > cur {
                return Some(cur);
            }
            if *h >= hi {
                return None;
            }
            cur = h + 1;
        }
        Some(cur)
    }

    pub fn check_spec(&self, s: &Spec) -> Result<(), TargetError> {
        let f = s.family();
        let out = |v: u128| TargetError::OutOfScope {
            target: s.text.clone(),
            address: from_u128(f, v),
        };
        let (lo, hi) = s.bounds();
        match self.first_uncovered(f, lo, hi) {
            None => return Ok(()),
            Some(v) if matches!(s.kind, SpecKind::Range { .. }) => return Err(out(v)),
            Some(_) => {}
        }
        let mut iv = Vec::new();
        if !s.intervals(1 << 20, &mut iv) {
            // too many runs to check one by one: require the bounding range instead
            return Err(out(self.first_uncovered(f, lo, hi).unwrap_or(lo)));
        }
        for (l, h) in iv {
            if let Some(v) = self.first_uncovered(f, l, h) {
                return Err(out(v));
            }
        }
        Ok(())
    }
}

fn merge(mut v: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    v.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
    for (l, h) in v {
        match out.last_mut() {
            Some(last) if l <= last.1.saturating_add(1) => last.1 = last.1.max(h),
            _ => out.push((l, h)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(s: &str) -> Spec {
        Spec::parse_literal(s).unwrap().unwrap()
    }
    fn ips(set: &TargetSet) -> Vec<String> {
        set.iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn addresses_cidr_and_ranges() {
        assert_eq!(spec("127.0.0.1").len(), 1);
        assert_eq!(spec("::1").len(), 1);
        assert_eq!(spec("127.20.0.0/16").len(), 65536);
        assert_eq!(
            spec("127.20.0.77/24").iter().next().unwrap().to_string(),
            "127.20.0.0"
        );
        assert_eq!(spec("127.20.0.1-254").len(), 254);
        assert_eq!(spec("127.20.1-3.1-10").len(), 30);
        assert_eq!(spec("127.0.0.1,3,7-9").len(), 5);
        assert_eq!(spec("127.0.0.*").len(), 256);
        assert_eq!(spec("127.0.0.-5").len(), 6);
        assert_eq!(spec("127.0.0.250-").len(), 6);
        assert_eq!(spec("fd00::/120").len(), 256);
        assert_eq!(spec("::/0").len(), u128::MAX);
        let v: Vec<String> = spec("127.20.1-2.9-10")
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(
            v,
            ["127.20.1.9", "127.20.1.10", "127.20.2.9", "127.20.2.10"]
        );
    }

    #[test]
    fn bad_specs_are_clear_errors() {
        for bad in [
            "127.0.0.256",
            "127.0.0.5-1",
            "127.0.0.1/33",
            "1.2.3",
            "::1/129",
            "127.0.0.1-2/24",
            "a b",
            "",
        ] {
            let e = Spec::parse_literal(bad);
            assert!(e.is_err(), "{bad} should fail: {e:?}");
        }
        assert!(Spec::parse_literal("localhost").unwrap().is_none());
        let e = Spec::parse_literal("127.0.0.5-1").unwrap_err().to_string();
        assert!(e.contains("127.0.0.5-1") && e.contains("reversed"), "{e}");
    }

    #[test]
    fn scan_with_scope_refuses_a_host_name_before_any_dns_lookup() {
        let scope = Scope::parse_items(&["127.20.0.0/16".into()]).unwrap();
        let looked_up = std::cell::RefCell::new(Vec::<String>::new());
        let mut resolver = |n: &str| -> Result<Vec<Spec>, TargetError> {
            looked_up.borrow_mut().push(n.to_string());
            Ok(vec![Spec::single(n, "127.20.0.9".parse().unwrap())])
        };
        let items: Vec<String> = vec!["127.20.0.1".into(), "outside.example".into()];
        let e = parse_targets(&items, Some(&scope), &mut resolver).unwrap_err();
        assert!(e.to_string().contains("outside.example"), "{e}");
        assert!(e.to_string().contains("DNS"), "{e}");
        // An out-of-scope literal is refused too, and still nothing was looked up.
        let items: Vec<String> = vec!["10.0.0.1".into(), "later.example".into()];
        assert!(parse_targets(&items, Some(&scope), &mut resolver).is_err());
        assert!(looked_up.borrow().is_empty(), "DNS asked for {looked_up:?}");
        // Without a scope the resolver is used.
        let s = parse_targets(&["cam.example".into()], None, &mut resolver).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(*looked_up.borrow(), vec!["cam.example"]);
        // In-scope literals pass.
        let s = parse_targets(&["127.20.1.0/24".into()], Some(&scope), &mut resolver).unwrap();
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn host_names_resolve() {
        let s = parse_specs(&["localhost".into()], true).unwrap();
        assert_eq!(s.len(), 1);
        assert!(s[0].iter().next().unwrap().is_loopback());
        assert!(parse_specs(&["localhost".into()], false).is_err());
    }

    #[test]
    fn exclusions_and_dedupe() {
        let set = TargetSet::new(
            parse_specs(&["127.0.0.1-5".into(), "127.0.0.4-6".into()], false).unwrap(),
            parse_specs(&["127.0.0.2".into()], false).unwrap(),
        );
        assert_eq!(
            ips(&set),
            [
                "127.0.0.1",
                "127.0.0.3",
                "127.0.0.4",
                "127.0.0.5",
                "127.0.0.6"
            ]
        );
        assert_eq!(set.count(100), Count::Exact(5));
        assert_eq!(set.count(3), Count::AtLeast(3));
        let m = set.membership();
        for ip in ["127.0.0.1", "127.0.0.6"] {
            assert!(m.contains(ip.parse().unwrap()) && set.contains(ip.parse().unwrap()));
        }
        for ip in ["127.0.0.2", "127.0.0.7"] {
            assert!(!m.contains(ip.parse().unwrap()) && !set.contains(ip.parse().unwrap()));
        }
    }

    #[test]
    fn long_address_lists_stay_fast() {
        let items: Vec<String> = (0..60_000u32)
            .map(|i| Ipv4Addr::from(0x7f30_0000 + i % 50_000).to_string())
            .collect();
        let ex: Vec<String> = (0..5_000u32)
            .map(|i| Ipv4Addr::from(0x7f30_0000 + i).to_string())
            .collect();
        let set = TargetSet::new(
            parse_specs(&items, false).unwrap(),
            parse_specs(&ex, false).unwrap(),
        );
        let t = std::time::Instant::now();
        assert_eq!(
            set.iter().count(),
            45_000,
            "duplicates and exclusions removed"
        );
        assert_eq!(set.count(100_000), Count::Exact(45_000));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn a_slash_8_is_lazy_and_refused_without_force() {
        let set = TargetSet::new(vec![spec("127.0.0.0/8")], vec![]);
        assert_eq!(set.upper_bound(), 1 << 24);
        assert!(matches!(
            set.check_size(65536, false),
            Err(TargetError::TooMany { .. })
        ));
        assert_eq!(set.check_size(65536, true).unwrap(), Count::Exact(1 << 24));
        // iterating the first few does not materialise the rest
        assert_eq!(set.iter().nth(70000).unwrap().to_string(), "127.1.17.112");
        // a huge IPv6 block is refused cheaply
        let v6 = TargetSet::new(vec![spec("fd00::/64")], vec![]);
        assert!(v6.check_size(65536, false).is_err());
    }

    #[test]
    fn scope_names_the_offending_target() {
        let scope = Scope::parse_items(&["127.20.0.0/16".into(), "127.21.0.0/24".into()]).unwrap();
        let ok = TargetSet::new(
            parse_specs(&["127.20.5.0/24".into(), "127.21.0.1-254".into()], false).unwrap(),
            vec![],
        );
        assert!(ok.check_scope(&scope).is_ok());
        let bad = TargetSet::new(
            parse_specs(&["127.20.0.1".into(), "127.21.0-1.1".into()], false).unwrap(),
            vec![],
        );
        let e = bad.check_scope(&scope).unwrap_err();
        assert_eq!(
            e,
            TargetError::OutOfScope {
                target: "127.21.0-1.1".into(),
                address: "127.21.1.1".parse().unwrap()
            }
        );
        assert!(e.to_string().contains("127.21.0-1.1"));
        let big = TargetSet::new(vec![spec("127.0.0.0/8")], vec![]);
        assert!(big.check_scope(&scope).is_err());
        assert!(TargetSet::new(vec![spec("::1")], vec![])
            .check_scope(&scope)
            .is_err());
        // adjacent scope networks merge
        let s2 = Scope::parse_items(&["127.0.0.0/25".into(), "127.0.0.128/25".into()]).unwrap();
        assert!(s2.check_spec(&spec("127.0.0.0/24")).is_ok());
    }

    #[test]
    fn list_files() {
        let dir = std::env::temp_dir().join(format!("camtrace-probe-list-{}", std::process::id()));
        std::fs::write(&dir, "127.0.0.1 127.0.0.2 # comment\n\n127.0.1.0/30\n").unwrap();
        let items = read_list_file(&dir).unwrap();
        assert_eq!(items, ["127.0.0.1", "127.0.0.2", "127.0.1.0/30"]);
        std::fs::remove_file(&dir).ok();
        assert!(read_list_file(Path::new("/nonexistent/x")).is_err());
        assert_eq!(
            split_exclude_arg("127.0.0.1,127.0.0.9"),
            ["127.0.0.1", "127.0.0.9"]
        );
        assert_eq!(split_exclude_arg("127.0.0.1,3"), ["127.0.0.1,3"]);
    }

    fn octet_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u8..=255).prop_map(|n| n.to_string()),
            (0u8..=255, 0u8..=255).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            Just("*".to_string()),
            proptest::collection::vec(0u8..=255, 1..4).prop_map(|v| v
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")),
        ]
    }

    proptest! {
        #[test]
        fn cidr_iter_matches_len_and_contains(a in any::<u32>(), p in 20u8..=32) {
            let s = spec(&format!("{}/{}", Ipv4Addr::from(a), p));
            let all: Vec<IpAddr> = s.iter().collect();
            prop_assert_eq!(all.len() as u128, s.len());
            prop_assert!(all.iter().all(|ip| s.contains(*ip)));
            prop_assert!(s.contains(IpAddr::V4(Ipv4Addr::from(a))));
            prop_assert!(all.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn octet_specs_iterate_exactly_their_members(o in proptest::collection::vec(octet_strategy(), 4)) {
            // keep the product small
            let o = [o[0].clone(), o[1].clone(), "1-2".to_string(), o[3].clone()];
            let text = o.join(".");
            let s = spec(&text);
            prop_assume!(s.len() <= 200_000);
            let all: Vec<IpAddr> = s.iter().collect();
            prop_assert_eq!(all.len() as u128, s.len());
            prop_assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
            prop_assert!(all.iter().all(|ip| s.contains(*ip)));
        }

        #[test]
        fn parser_never_panics(t in "[0-9a-z:.*,/-]{0,40}") {
            let _ = Spec::parse_literal(&t);
        }

        #[test]
        fn count_equals_iteration(a in 0u8..=255, b in 0u8..=255, ex in 0u8..=255) {
            let set = TargetSet::new(
                parse_specs(&[format!("127.1.{}.0/28", a), format!("127.1.{}.0-20", b)], false).unwrap(),
                parse_specs(&[format!("127.1.{}.{}", a, ex % 16)], false).unwrap(),
            );
            let n = set.iter().count() as u128;
            prop_assert_eq!(set.count(1000), Count::Exact(n));
            let mut v: Vec<IpAddr> = set.iter().collect();
            v.sort(); v.dedup();
            prop_assert_eq!(v.len() as u128, n);
        }

        #[test]
        fn scope_check_agrees_with_membership(p in 22u8..=30, q in 22u8..=30, x in 0u32..4096) {
            let scope = Scope::parse_items(&[format!("127.9.0.0/{p}")]).unwrap();
            let t = spec(&format!("{}/{}", Ipv4Addr::from(0x7f09_0000u32 + x), q));
            let inside = t.iter().all(|ip| scope.contains(ip));
            prop_assert_eq!(scope.check_spec(&t).is_ok(), inside);
        }
    }
}
