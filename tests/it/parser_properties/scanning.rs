//! Running the scanner over pages in a chunking.

use super::*;

/// How a body is cut into the chunks fed to the scanner.
#[derive(Clone, Debug)]
pub enum Chunking {
    Whole,
    /// One byte at a time: every escape and every multi-byte character is split.
    Bytes,
    /// Sizes taken in turn (across pages); a 0 feeds an empty chunk.
    Sizes(Vec<usize>),
}

pub fn sizes(max: usize) -> BoxedStrategy<Vec<usize>> {
    prop::collection::vec(0..max, 1..8).boxed()
}

pub fn split<'a>(body: &'a [u8], chunking: &Chunking, turn: &mut usize) -> Vec<&'a [u8]> {
    match chunking {
        Chunking::Whole => vec![body],
        Chunking::Bytes => body.chunks(1).collect(),
        Chunking::Sizes(sizes) => {
            let mut out = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let mut n = sizes[*turn % sizes.len()];
                *turn += 1;
                if n == 0 {
                    out.push(&rest[..0]);
                    n = 1;
                }
                let (a, b) = rest.split_at(n.min(rest.len()));
                out.push(a);
                rest = b;
            }
            out
        }
    }
}

/// A field's raw bytes, shown as text when they are UTF-8.
#[derive(Clone, PartialEq, Eq)]
pub struct Raw(pub Vec<u8>);

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "bytes{:?}", self.0),
        }
    }
}

/// The counted fields of one record, raw, in [`FIELD_ORDER`].
pub type Fields = [Option<Raw>; 5];

pub const FIELD_ORDER: [Field; 5] = [
    Field::State,
    Field::Template,
    Field::TemplateName,
    Field::Campaign,
    Field::CampaignName,
];

/// The default pointers of each field, in [`FIELD_ORDER`] (docs/evolux-api.md).
pub const POINTERS: [&[&str]; 5] = [
    &["/state"],
    &["/template_uuid", "/template/uuid"],
    &["/template_name", "/template/name"],
    &["/campaign_uuid", "/campaign/uuid"],
    &["/campaign_name", "/campaign/name"],
];

pub fn fields_of(r: &RecordFields<'_>) -> Fields {
    FIELD_ORDER.map(|f| r.get(f).map(|v| Raw(v.to_vec())))
}

/// What a tally counted, in a comparable form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// (campaign, template, state) to count, zeros left out.
    pub counts: BTreeMap<(String, String, String), u64>,
    pub campaign_names: BTreeMap<String, Option<String>>,
    pub template_names: BTreeMap<String, String>,
    pub records: u64,
    pub over_cap: u64,
}

/// Template names are compared only for a fixed campaign: in discovery, two
/// campaigns may name one template differently and either name may win.
pub fn summarize(t: Tally, template_names: bool) -> Summary {
    let mut s = Summary {
        records: t.records,
        over_cap: t.over_cap,
        ..Summary::default()
    };
    let (campaigns, names) = t.into_campaigns();
    for (uuid, counts, name) in campaigns {
        for (template, states) in &counts.templates {
            for (state, n) in states.iter() {
                if n > 0 {
                    s.counts
                        .insert((uuid.clone(), template.to_string(), state.to_string()), n);
                }
            }
        }
        s.campaign_names.insert(uuid, name);
    }
    if template_names {
        s.template_names = names.into_iter().collect();
    }
    s
}

/// What a page said besides its records, as the reference reads it too
/// (the hints beyond the next link are compared across chunkings only).
#[derive(Debug, PartialEq)]
pub struct End {
    pub next: Option<String>,
    pub records: u64,
    pub invalid: u64,
    pub records_at: Option<String>,
}

/// Everything one scan of a query's pages produced.
#[derive(Debug, PartialEq)]
pub struct Run<E = PageEnd> {
    pub ends: Vec<E>,
    pub fields: Vec<Fields>,
    pub discovery: Summary,
    pub fixed: Summary,
}

impl Run {
    /// The run as the reference sees it.
    pub fn without_hints(&self) -> Run<End> {
        Run {
            ends: self
                .ends
                .iter()
                .map(|e| End {
                    next: e.next.clone(),
                    records: e.records,
                    invalid: e.invalid,
                    records_at: e.records_at.clone(),
                })
                .collect(),
            fields: self.fields.clone(),
            discovery: self.discovery.clone(),
            fixed: self.fixed.clone(),
        }
    }
}

/// Scans each page with a fresh scanner, counting into a discovery tally and
/// a fixed-campaign tally at once. The error names the page.
pub fn run(pages: &[&[u8]], chunking: &Chunking) -> Result<Run, (usize, ScanError)> {
    let layout = ResponseLayout::default();
    let mut discovery = Tally::new(None, MAX_SERIES);
    let mut fixed = Tally::new(Some(FIXED), MAX_SERIES);
    let mut fields = Vec::new();
    let mut ends = Vec::new();
    let mut turn = 0;
    for (page, body) in pages.iter().enumerate() {
        let mut sink = |r: &RecordFields<'_>| {
            fields.push(fields_of(r));
            discovery.add(r);
            fixed.add(r);
        };
        let mut scanner = BodyScanner::new(&layout);
        for chunk in split(body, chunking, &mut turn) {
            scanner.feed(chunk, &mut sink).map_err(|e| (page, e))?;
        }
        ends.push(scanner.finish().map_err(|e| (page, e))?);
    }
    Ok(Run {
        ends,
        fields,
        discovery: summarize(discovery, false),
        fixed: summarize(fixed, true),
    })
}
