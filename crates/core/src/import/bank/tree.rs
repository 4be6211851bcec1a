//! One tree of a statement file's elements, whatever its syntax: OFX 1's SGML is built by
//! `ofx`, XML (OFX 2, camt.053) here with quick-xml. Element names are upper-cased local
//! names (no namespace prefix), so a reader looks elements up one way; each remembers its
//! line for a refusal. Nothing here knows what a statement is.

use encoding_rs::Encoding;

use super::StatementProblem;

/// One element of the document: a leaf with its text, or an aggregate with children.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: String,
    pub text: Option<String>,
    /// Attributes by upper-case local name (camt's `<Amt Ccy="EUR">`).
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub line: u64,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .and_then(|c| c.text.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Every descendant named `name`, depth first.
    pub fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        for child in &self.children {
            if child.name == name {
                out.push(child);
            } else {
                child.all(name, out);
            }
        }
    }
}

impl Element {
    /// An attribute's value by its upper-case name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An element's attributes, by upper-case local name; one that cannot be read is left out.
fn attributes(start: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    start
        .attributes()
        .filter_map(Result::ok)
        .map(|a| {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.clone().into_owned());
            (local(a.key.0), value)
        })
        .collect()
}

/// The upper-case local name of an XML name (`ns2:Amt` is `AMT`).
fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_ascii_uppercase()
}

pub(crate) fn read_xml(bytes: &[u8]) -> Result<Element, StatementProblem> {
    use quick_xml::events::Event;
    let declared = find(bytes, b"encoding=")
        .filter(|at| *at < 200)
        .and_then(|at| {
            let rest = &bytes[at + 10..];
            rest.iter()
                .position(|b| *b == b'"' || *b == b'\'')
                .map(|end| &rest[..end])
        })
        .and_then(Encoding::for_label)
        .unwrap_or(encoding_rs::UTF_8);
    // A file that declares UTF-16 without a byte-order mark is single-byte text (seen in
    // the wild); encoding_rs finds a real UTF-16 file by its BOM.
    let declared = if declared == encoding_rs::UTF_16LE || declared == encoding_rs::UTF_16BE {
        encoding_rs::UTF_8
    } else {
        declared
    };
    let (text, _, _) = declared.decode(bytes);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut stack = vec![Element::default()];
    let line_at = |offset: u64| {
        1 + text.as_bytes()[..(offset as usize).min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64
    };
    loop {
        let offset = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            StatementProblem::at(
                line_at(reader.error_position()),
                "OFX",
                "",
                format!("the XML cannot be read: {e}"),
            )
        })?;
        match event {
            Event::Start(start) => stack.push(Element {
                name: local(start.name().0),
                attributes: attributes(&start),
                line: line_at(offset),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let empty = Element {
                    name: local(start.name().0),
                    attributes: attributes(&start),
                    line: line_at(offset),
                    ..Element::default()
                };
                stack
                    .last_mut()
                    .expect("the root stays")
                    .children
                    .push(empty);
            }
            Event::Text(t) => {
                let value = t.xml10_content();
                if !value.trim().is_empty() && stack.len() > 1 {
                    let top = stack.last_mut().expect("the root stays");
                    top.text.get_or_insert_with(String::new).push_str(&value);
                }
            }
            Event::CData(c) if stack.len() > 1 => {
                let top = stack.last_mut().expect("the root stays");
                top.text
                    .get_or_insert_with(String::new)
                    .push_str(&c.into_inner());
            }
            Event::GeneralRef(r) if stack.len() > 1 => {
                let name = r.xml10_content();
                let value = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_xml_entity(&name)
                        .map_or_else(|| format!("&{name};"), str::to_string),
                };
                let top = stack.last_mut().expect("the root stays");
                top.text.get_or_insert_with(String::new).push_str(&value);
            }
            Event::End(_) if stack.len() > 1 => close_top(&mut stack),
            Event::Eof => break,
            _ => {}
        }
    }
    while stack.len() > 1 {
        close_top(&mut stack);
    }
    Ok(stack.pop().expect("the root"))
}

/// Ends the innermost open element: it becomes its parent's last child. The root (the
/// stack's first element) is never closed this way.
pub(crate) fn close_top(stack: &mut Vec<Element>) {
    debug_assert!(stack.len() > 1, "the root stays open");
    let done = stack.pop().expect("deeper than the root");
    stack
        .last_mut()
        .expect("the root stays")
        .children
        .push(done);
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
