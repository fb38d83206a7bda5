//! One record as the parser hands it over: the counted fields, borrowed
//! from the body's bytes, and the sink that receives it.

use std::borrow::Cow;

/// The fields a record is counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The dispatch state.
    State = 0,
    /// The template's UUID.
    Template = 1,
    /// The template's name.
    TemplateName = 2,
    /// The campaign's UUID.
    Campaign = 3,
    /// The campaign's name.
    CampaignName = 4,
}

/// The counted fields of one record, borrowed from its bytes where possible.
///
/// Values are the raw bytes of JSON strings (escapes decoded), not yet
/// checked to be UTF-8: the tally looks most of them up as they are and
/// validates only the few it keeps (a new label value, a name).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordFields<'a> {
    slots: [Option<(u8, Cow<'a, [u8]>)>; 5],
}

impl<'a> RecordFields<'a> {
    /// The raw bytes of a field, if the record has it as a string.
    #[inline]
    pub fn get(&self, field: Field) -> Option<&[u8]> {
        self.slots[field as usize].as_ref().map(|(_, v)| v.as_ref())
    }

    /// A field as text, if the record has it as a valid UTF-8 string.
    pub fn get_str(&self, field: Field) -> Option<&str> {
        self.get(field).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Sets a field found at the pointer of rank `priority` (0 is the
    /// first choice); a better-ranked value already set wins.
    #[inline]
    pub fn set(&mut self, field: Field, priority: u8, value: Cow<'a, [u8]>) {
        let slot = &mut self.slots[field as usize];
        if slot.as_ref().is_none_or(|(p, _)| *p > priority) {
            *slot = Some((priority, value));
        }
    }
}

/// Receives each usable record, with the fields the layout asks for.
pub trait RecordSink {
    /// One record.
    fn record(&mut self, fields: &RecordFields<'_>);

    /// The bytes of one record (an object), before [`RecordSink::record`].
    /// Nothing by default; `--evolux.diagnose` reads the field names here.
    #[inline]
    fn raw(&mut self, _bytes: &[u8]) {}
}

impl<F: FnMut(&RecordFields<'_>)> RecordSink for F {
    fn record(&mut self, fields: &RecordFields<'_>) {
        self(fields)
    }
}
