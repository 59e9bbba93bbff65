//! A small, capped XML tree over quick-xml: element local names (prefixes dropped), attributes,
//! text. Used by every XML reply parser so that limits are enforced in one place.

use crate::error::{cap, ParseError, Result};
use quick_xml::events::Event;
use quick_xml::Reader;

/// Largest XML document accepted.
pub const MAX_XML: usize = 1 << 20;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 48;
/// Most elements accepted in one document.
pub const MAX_NODES: usize = 20_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Node {
    /// Local name (namespace prefix removed).
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// Text directly inside this element (concatenated, trimmed).
    pub text: String,
    pub children: Vec<Node>,
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rfind(':') {
        Some(i) => s[i + 1..].to_string(),
        None => s.into_owned(),
    }
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

impl Node {
    /// First child element with this local name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
    /// Text of the first child with this local name, when not empty.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_string())
            .filter(|t| !t.is_empty())
    }
    /// Depth-first search for the first element with this local name (self included).
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name.eq_ignore_ascii_case(name) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
    /// All elements with this local name, depth first.
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        if self.name.eq_ignore_ascii_case(name) {
            out.push(self);
            return;
        }
        for c in &self.children {
            c.find_all(name, out);
        }
    }
}

/// Parse an XML document into its root element, enforcing size, depth and element-count caps.
pub(crate) fn parse(text: &str) -> Result<Node> {
    cap(text.len(), MAX_XML)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut count = 0usize;
    let close = |stack: &mut Vec<Node>, root: &mut Option<Node>| {
        if let Some(mut n) = stack.pop() {
            n.text = n.text.trim().to_string();
            match stack.last_mut() {
                Some(parent) => parent.children.push(n),
                None => {
                    if root.is_none() {
                        *root = Some(n)
                    }
                }
            }
        }
    };
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| ParseError::Xml(format!("at byte {}: {e}", reader.buffer_position())))?;
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_some() && stack.is_empty() => {
                let _ = e;
                return Err(ParseError::Xml("more than one root element".into()));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_NODES {
                    return Err(ParseError::TooManyNodes(MAX_NODES));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::TooDeep(MAX_DEPTH));
                }
                let mut node = Node {
                    name: local(e.name().as_ref()),
                    ..Default::default()
                };
                for a in e.attributes().flatten().take(64) {
                    node.attrs.push((
                        local(a.key.as_ref()),
                        String::from_utf8_lossy(&a.value).into_owned(),
                    ));
                }
                stack.push(node);
                if matches!(ev, Event::Empty(_)) {
                    close(&mut stack, &mut root);
                }
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::CData(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(n) = stack.last_mut() {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        _ => named_entity(&String::from_utf8_lossy(&r.into_inner())),
                    };
                    if let Some(c) = c {
                        n.text.push(c);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // Unclosed elements at the end: close them (lenient with truncated replies).
    while !stack.is_empty() {
        close(&mut stack, &mut root);
    }
    root.ok_or(ParseError::Xml("no element".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_prefixes_and_caps() {
        let n = parse("<a:Root xmlns:a='x'><b:V>1 &amp; 2 &#65;</b:V><E/></a:Root>").unwrap();
        assert_eq!(n.name, "Root");
        assert_eq!(n.child_text("V").unwrap(), "1 & 2 A");
        assert!(n.child("E").is_some());
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep), Err(ParseError::TooDeep(MAX_DEPTH)));
        assert!(matches!(
            parse(&"x".repeat(MAX_XML + 1)),
            Err(ParseError::TooLarge { .. })
        ));
        assert!(parse("").is_err());
        assert!(parse("just text").is_err());
    }
}
