//! Low-level JSON lexing shared by the body scanner and the record walker:
//! finding where a value ends without building it.

use memchr::memchr2;

/// Why a walk over a buffer stopped before the end of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The buffer ends inside the value: more bytes are needed.
    Incomplete,
    /// The bytes are not JSON.
    Invalid,
}

/// `Ok(index just past the thing)` or why not.
pub type Walked = Result<usize, Stop>;

/// Finds the end of a JSON value by counting brackets outside strings, fed
/// in pieces. It does not validate what it skips.
#[derive(Debug, Default, Clone, Copy)]
pub struct Skipper {
    depth: u32,
    in_string: bool,
    escape: bool,
}

const STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

impl Skipper {
    /// A skipper for a string whose opening quote was already consumed.
    pub fn string() -> Skipper {
        Skipper {
            depth: 0,
            in_string: true,
            escape: false,
        }
    }

    /// Consumes bytes; returns the index of the value's last byte once found.
    /// Starts on the value's opening `{` or `[` (or inside a string).
    #[inline]
    pub fn scan(&mut self, b: &[u8]) -> Option<usize> {
        let mut i = 0;
        loop {
            if self.in_string {
                if self.escape {
                    if i >= b.len() {
                        return None;
                    }
                    self.escape = false;
                    i += 1;
                }
                let p = i + memchr2(b'"', b'\\', b.get(i..)?)?;
                if b[p] == b'\\' {
                    self.escape = true;
                    i = p + 1;
                    continue;
                }
                self.in_string = false;
                i = p + 1;
                if self.depth == 0 {
                    return Some(p);
                }
            } else {
                while i < b.len() && !STRUCTURAL[b[i] as usize] {
                    i += 1;
                }
                let c = *b.get(i)?;
                match c {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    _ => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(i);
                        }
                    }
                }
                i += 1;
            }
        }
    }
}

/// JSON whitespace.
#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Bytes a bare token (number, `true`, `false`, `null`) is made of.
#[inline]
pub fn is_scalar_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'+' | b'-' | b'.')
}

/// Index of the first non-whitespace byte at or after `i`.
#[inline]
pub fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_ws(buf[i]) {
        i += 1;
    }
    i
}

/// The byte at `i`, or [`Stop::Incomplete`] past the end.
#[inline]
pub fn byte_at(buf: &[u8], i: usize) -> Result<u8, Stop> {
    buf.get(i).copied().ok_or(Stop::Incomplete)
}

/// From just after a string's opening quote: the index just past its
/// closing quote, and whether it holds escapes.
#[inline]
pub fn string_end(buf: &[u8], mut i: usize) -> Result<(usize, bool), Stop> {
    let mut escaped = false;
    loop {
        let p = i + memchr2(b'"', b'\\', buf.get(i..).ok_or(Stop::Incomplete)?)
            .ok_or(Stop::Incomplete)?;
        if buf[p] == b'"' {
            return Ok((p + 1, escaped));
        }
        escaped = true;
        i = p + 2;
    }
}

/// From a value's first byte: the index just past it, without building it.
#[inline]
pub fn skip_value(buf: &[u8], i: usize) -> Walked {
    match byte_at(buf, i)? {
        b'"' => string_end(buf, i + 1).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut sk = Skipper::default();
            sk.scan(&buf[i..])
                .map(|rel| i + rel + 1)
                .ok_or(Stop::Incomplete)
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let mut j = i + 1;
            while j < buf.len() && is_scalar_byte(buf[j]) {
                j += 1;
            }
            if j == buf.len() {
                // The token may go on in the next chunk.
                return Err(Stop::Incomplete);
            }
            Ok(j)
        }
        _ => Err(Stop::Invalid),
    }
}

/// Decodes a JSON string's content (between the quotes) that holds escapes.
pub fn decode_escaped(raw: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_end_at_the_unescaped_quote() {
        assert_eq!(string_end(br#"abc" x"#, 0), Ok((4, false)));
        assert_eq!(string_end(br#"a\"b\\" x"#, 0), Ok((7, true)));
        assert_eq!(string_end(br#"abc\"#, 0), Err(Stop::Incomplete));
        assert_eq!(string_end(br#"abc"#, 0), Err(Stop::Incomplete));
    }

    #[test]
    fn values_are_skipped_whole() {
        assert_eq!(skip_value(br#"{"a":[1,"}"]} ,"#, 0), Ok(13));
        assert_eq!(skip_value(b"123,", 0), Ok(3));
        assert_eq!(skip_value(b"123", 0), Err(Stop::Incomplete));
        assert_eq!(skip_value(b"[1,2", 0), Err(Stop::Incomplete));
        assert_eq!(skip_value(b"<html>", 0), Err(Stop::Invalid));
    }
}
