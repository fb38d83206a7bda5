//! The `Link` header (RFC 8288): the target of `rel="next"`.

/// The target of the first link whose relation types include `next`, in
/// the values of every `Link` header of a response.
pub fn next_target<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().find_map(next_in)
}

/// `next` in one header value: `<uri>; param; rel="a next", <uri2>; ...`.
fn next_in(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let (params, after) = split_params(&rest[close + 1..]);
        if params_say_next(params) {
            return Some(target.trim().to_string());
        }
        rest = after?;
    }
}

/// The parameters of one link (up to the comma that ends it, outside
/// quotes), and what follows that comma.
fn split_params(s: &str) -> (&str, Option<&str>) {
    match split_unquoted(s, ',') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// The index of the first `sep` outside a quoted string.
fn split_unquoted(s: &str, sep: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether `; rel=next` or `; rel="next prev"` is among the parameters.
fn params_say_next(mut params: &str) -> bool {
    loop {
        let (param, rest) = match split_unquoted(params, ';') {
            Some(i) => (&params[..i], Some(&params[i + 1..])),
            None => (params, None),
        };
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|t| t.eq_ignore_ascii_case("next"))
        {
            return true;
        }
        match rest {
            Some(r) => params = r,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_other_relations_in_any_spelling() {
        let v = r#"<https://a.example/p?page=1>; rel="first", <https://a.example/p?page=3>; rel="next", <https://a.example/p?page=9>; rel="last""#;
        assert_eq!(
            next_target([v]).as_deref(),
            Some("https://a.example/p?page=3")
        );
        assert_eq!(
            next_target(["</p?page=2>; rel=next"]).as_deref(),
            Some("/p?page=2")
        );
        assert_eq!(
            next_target([
                r#"</x>; title="a, b; rel=next"; rel="prev""#,
                "</y>; REL=\"prefetch NEXT\""
            ])
            .as_deref(),
            Some("/y")
        );
        assert_eq!(next_target([r#"</p?page=1>; rel="prev""#]), None);
        assert_eq!(next_target(["garbage", ""]), None);
    }
}
