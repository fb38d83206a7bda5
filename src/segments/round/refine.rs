//! A new target's first-read check made telling, in the same poll: a
//! piece that holds every record is split again ([`refine`]), and parts
//! that add up to more than the whole with none at its size are told apart
//! (a cap above every part, or parts that overlap) by halving one of them.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;

use crate::segments::layout::{Read, ReadKind, check_pieces};
use crate::segments::{Millis, Range};

/// How many times a first read's check splits again a piece that held
/// every record, into [`REFINE_WAYS`] pieces each time: from half a year
/// down to about two seconds.
pub const REFINE_LEVELS: usize = 7;
/// Into how many pieces such a piece is split.
pub const REFINE_WAYS: i64 = 8;

/// What the poll reads of an answer ([`Reader::records`],
/// [`Reader::vouched`]).
pub(super) struct Answers<'b, A> {
    pub(super) records: fn(&A) -> Option<u64>,
    pub(super) vouched: fn(&A) -> bool,
    /// Requests the poll's budget has left, shared by every target.
    pub(super) left: &'b AtomicUsize,
}

/// A first read's check says nothing while one piece holds every record of
/// the whole read and the others none (a campaign inserted in a burst, or
/// all in the last months of a year-long range): that piece is split into
/// [`REFINE_WAYS`] pieces, read at once, until the pieces tell (two hold
/// records, or they add up to more than the whole), at most
/// [`REFINE_LEVELS`] times. Not when the server vouched for the whole read
/// (a total stated and met). They come out of what the poll's budget has
/// left; when it has too little, the check concludes on what it has (and
/// the first verification checks the target again).
pub(super) async fn refine<A, F: Future<Output = A>>(
    answers: &mut Vec<(ReadKind, A)>,
    now_ms: Millis,
    answers_are: &Answers<'_, A>,
    read: &impl Fn(Read) -> F,
) {
    let records = answers_are.records;
    let whole = answers
        .iter()
        .find(|(k, _)| *k == ReadKind::Whole)
        .filter(|(_, a)| !(answers_are.vouched)(a))
        .and_then(|(_, a)| records(a));
    let Some(whole) = whole.filter(|w| *w > 0) else {
        return;
    };
    split_full_piece(answers, whole, now_ms, answers_are, read).await;
    probe(answers, whole, now_ms, answers_are, read).await;
}

/// Splits the piece that holds every record, while one does.
async fn split_full_piece<A, F: Future<Output = A>>(
    answers: &mut Vec<(ReadKind, A)>,
    whole: u64,
    now_ms: Millis,
    answers_are: &Answers<'_, A>,
    read: &impl Fn(Read) -> F,
) {
    let records = answers_are.records;
    for _ in 0..REFINE_LEVELS {
        let mut full = None;
        for (i, (kind, answer)) in answers.iter().enumerate() {
            let ReadKind::Check(range) = kind else {
                continue;
            };
            match records(answer) {
                Some(0) => {}
                Some(n) if n == whole && full.is_none() => full = Some((i, *range)),
                // A failed piece, or records in two pieces: the check tells.
                _ => return,
            }
        }
        let Some((i, range)) = full else { return };
        let pieces = check_pieces(range, now_ms, REFINE_WAYS);
        let Some(more) = read_all(pieces, ReadKind::Check, answers_are, read).await else {
            return;
        };
        answers.remove(i);
        answers.extend(more);
    }
}

/// Parts that add up to more than the whole, none at its size and not all
/// equal to it, are a cap above every part (each part then exact) or parts
/// that overlap. The largest part, halved, tells: a server that tiles gives
/// halves that add up to it ([`ReadKind::Probe`]).
async fn probe<A, F: Future<Output = A>>(
    answers: &mut Vec<(ReadKind, A)>,
    whole: u64,
    now_ms: Millis,
    answers_are: &Answers<'_, A>,
    read: &impl Fn(Read) -> F,
) {
    let records = answers_are.records;
    let mut parts = Vec::new();
    for (kind, answer) in answers.iter() {
        if let ReadKind::Check(range) = kind {
            let Some(n) = records(answer) else { return };
            parts.push((*range, n));
        }
    }
    let sum: u64 = parts.iter().map(|(_, n)| n).sum();
    let at_whole = parts.iter().any(|(_, n)| *n == whole);
    let Some((range, _)) = parts.iter().filter(|(_, n)| *n > 1).max_by_key(|(_, n)| *n) else {
        return;
    };
    if sum <= whole || at_whole {
        return;
    }
    let halves = check_pieces(*range, now_ms, 2);
    if let Some(more) = read_all(halves, ReadKind::Probe, answers_are, read).await {
        answers.extend(more);
    }
}

/// Reads `ranges` at once as `kind`, when there are two or more and the
/// budget has room for them all.
async fn read_all<A, F: Future<Output = A>>(
    ranges: Vec<Range>,
    kind: fn(Range) -> ReadKind,
    answers_are: &Answers<'_, A>,
    read: &impl Fn(Read) -> F,
) -> Option<Vec<(ReadKind, A)>> {
    let n = ranges.len();
    if n < 2 {
        return None;
    }
    answers_are
        .left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(n))
        .ok()?;
    let reads = ranges.into_iter().map(|range| {
        let r = Read {
            kind: kind(range),
            range,
        };
        async move { (r.kind, read(r).await) }
    });
    Some(join_all(reads).await)
}
