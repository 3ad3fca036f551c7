//! Quantifiers: reading an interval (`{n,m}`) and making a repeat, with
//! the nested repeats Onigmo reduces to one. Split from `parse.rs`, which
//! reads where a quantifier stands.

use super::Node;

/// `{n}`, `{n,}`, `{,m}`, `{n,m}` at the start of `rest`: (min, max,
/// length). Anything else is not an interval, and `{` is then literal.
pub(super) fn interval(rest: &str) -> Option<(u32, Option<u32>, usize)> {
    let end = rest.find('}')?;
    let body = &rest[1..end];
    let number = |s: &str| -> Option<Option<u32>> {
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            Some(Some(s.parse().unwrap_or(u32::MAX)))
        } else {
            None
        }
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(body)??;
            (n, Some(n))
        }
        Some((low, high)) => {
            let low = number(low)?;
            let high = number(high)?;
            if low.is_none() && high.is_none() {
                return None;
            }
            (low.unwrap_or(0), high)
        }
    };
    Some((min, max, end + 1))
}

/// `node` repeated `min` to `max` times. A greedy `?`, `*` or `+` of a
/// greedy `?`, `*` or `+` (`(?:a+)+`, or `(a+)+` in grok, where the group
/// does not capture) is one repeat, as Onigmo reduces it: both match the
/// same texts in the same order of preference, but the nested form tries
/// every way to split a run between its turns, which on a line that ends
/// in no match is exponential in the run's length.
pub(super) fn repeat(node: Node, min: u32, max: Option<u32>, greedy: bool) -> Node {
    let simple =
        |min: u32, max: Option<u32>| (min == 0 && max == Some(1)) || (min <= 1 && max.is_none());
    match node {
        // Ruby takes `(?:)*`; repeating nothing is nothing.
        Node::Empty => Node::Empty,
        Node::Repeat {
            node: inner,
            min: inner_min,
            max: inner_max,
            greedy: true,
        } if greedy && simple(min, max) && simple(inner_min, inner_max) => Node::Repeat {
            node: inner,
            min: min.min(inner_min),
            max: if max.is_none() || inner_max.is_none() {
                None
            } else {
                Some(1)
            },
            greedy: true,
        },
        node => Node::Repeat {
            node: Box::new(node),
            min,
            max,
            greedy,
        },
    }
}
