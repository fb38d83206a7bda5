//! (a) Arbitrary bytes: token soups and mutated pages.

use super::*;

/// Pieces of JSON, good and bad, to glue at random.
pub const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b":",
    b",",
    b" ",
    b"\n",
    b"\"data\"",
    b"\"next\"",
    b"\"links\"",
    b"\"state\"",
    b"\"sent\"",
    b"\"template_uuid\"",
    b"\"campaign\"",
    b"\"uuid\"",
    b"\"d\\u0061ta\"",
    b"1",
    b"-2.5e3",
    b"1e999",
    b"0x1F",
    b"true",
    b"false",
    b"null",
    b"nul",
    b"tru",
    b"\"\\u00e7\"",
    b"\"\\ud83d\\ude00\"",
    b"\"\\ud800\"",
    b"\"\\x\"",
    b"\xc3\xa7",
    b"\xc3",
    b"\xff",
    b"<",
    b"x",
    b"\"\\/p?page=2\"",
];

pub fn token_soup() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(select(TOKENS.to_vec()), 0..48)
        .prop_map(|ts| ts.concat())
        .boxed()
}

#[derive(Clone, Debug)]
pub enum Mutation {
    Delete(Index),
    Insert(Index, u8),
    Replace(Index, u8),
    Truncate(Index),
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    let byte = prop_oneof![
        3 => select(b"{}[]\":,\\ 0n-e.\xff\xc3a".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Delete),
        3 => (any::<Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        3 => (any::<Index>(), byte).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
    .boxed()
}

/// A valid page with a few bytes deleted, inserted, replaced or cut off.
pub fn mutated_page() -> BoxedStrategy<Vec<u8>> {
    (
        page_model(),
        any::<bool>(),
        prop::collection::vec(mutation(), 1..4),
    )
        .prop_map(|(p, has_next, mutations)| {
            let next = has_next.then(|| link(ORIGIN, p.absolute, 1));
            let mut body = serialize(&page_doc(&p, next.as_deref()), p.style);
            for m in mutations {
                let len = body.len();
                match m {
                    Mutation::Delete(i) if len > 0 => {
                        body.remove(i.index(len));
                    }
                    Mutation::Insert(i, b) => body.insert(i.index(len + 1), b),
                    Mutation::Replace(i, b) if len > 0 => body[i.index(len)] = b,
                    Mutation::Truncate(i) => body.truncate(i.index(len + 1)),
                    _ => {}
                }
            }
            body
        })
        .boxed()
}

pub fn arbitrary_body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        2 => token_soup(),
        3 => mutated_page(),
    ]
    .boxed()
}

pub fn check_arbitrary_bytes(bytes: &[u8], small: Vec<usize>) -> Result<(), TestCaseError> {
    let scan = |chunking: &Chunking| run(&[bytes], chunking).map_err(|(_, e)| e);
    let whole = scan(&Chunking::Whole);
    for chunking in [Chunking::Bytes, Chunking::Sizes(small)] {
        let got = scan(&chunking);
        prop_assert_eq!(&got, &whole, "fed as {:?} versus whole", chunking);
    }
    if let Ok(run) = &whole {
        let end = &run.ends[0];
        prop_assert!(end.records <= bytes.len() as u64, "{:?}", end);
        prop_assert!(end.invalid <= end.records, "{:?}", end);
        prop_assert_eq!(run.fields.len() as u64, end.records - end.invalid);
        prop_assert_eq!(run.discovery.records, run.fields.len() as u64);
        prop_assert_eq!(run.fixed.records, run.fields.len() as u64);
        prop_assert!(
            end.next.as_ref().is_none_or(|n| n.len() <= bytes.len()),
            "{:?}",
            end
        );
    }
    // Whenever the bytes are JSON, the scanner reads them as serde_json does.
    if let Ok(doc) = serde_json::from_slice::<Value>(bytes) {
        match reference_page(&doc) {
            RefPage::NoRecords => prop_assert!(
                matches!(whole, Err(ScanError::NoRecords { .. })),
                "no records array, yet {:?}",
                whole
            ),
            RefPage::TwoRecordArrays => prop_assert!(
                matches!(whole, Err(ScanError::TwoRecordArrays)),
                "two records arrays, yet {:?}",
                whole
            ),
            RefPage::BadNext => prop_assert!(
                matches!(whole, Err(ScanError::BadNext(_))),
                "a number or boolean as next link, yet {:?}",
                whole
            ),
            RefPage::Page {
                elements,
                next,
                records_at,
            } => {
                let expected = expected_run(&[(elements, next, records_at)]);
                match &whole {
                    Ok(run) => prop_assert_eq!(run.without_hints(), expected),
                    Err(e) => {
                        return Err(TestCaseError::fail(format!(
                            "valid JSON page refused: {e:?}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}
