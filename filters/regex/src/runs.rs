//! Runs of one character class: how far one reaches, how a lazy one moves
//! on, and where a greedy one may give characters back. The matcher spends
//! most of its time here, so each step looks at what must follow the run and
//! stops where that cannot begin, and the common classes scan with `memchr`.

use super::class::{ByteSet, ClassTable, SmallBytes, prev_char_start};
use super::compile::UNBOUNDED;

/// The largest position in `min..=at` (`min..at` unless `inclusive`) where
/// what follows a greedy run could begin. Positions are character starts.
#[inline]
pub(super) fn give_back(
    input: &[u8],
    min: usize,
    at: usize,
    next: Option<&ByteSet>,
    inclusive: bool,
) -> Option<usize> {
    let mut p = at;
    if !inclusive {
        if p <= min {
            return None;
        }
        p = prev_char_start(input, p);
    }
    let Some(set) = next else {
        return Some(p);
    };
    loop {
        if let Some(&b) = input.get(p)
            && set.contains(b)
        {
            return Some(p);
        }
        if p <= min {
            return None;
        }
        p = prev_char_start(input, p);
    }
}

/// Moves a lazy run forward from `pos`: one character first if `take_one`,
/// then on over class members until what follows could begin. `left` counts
/// the characters the run may still take (`UNBOUNDED` for no limit).
#[inline]
pub(super) fn lazy_step(
    table: &ClassTable,
    input: &[u8],
    mut pos: usize,
    left: &mut u32,
    (next, next_small): (Option<&ByteSet>, Option<SmallBytes>),
    take_one: bool,
) -> Option<usize> {
    // `.*?"`: one memchr for where what follows can begin or the run must stop.
    if *left == UNBOUNDED
        && let (Some(stops), Some(next_small)) = (table.stops, next_small)
        && let Some(targets) = stops.union(&next_small)
    {
        let mut start = pos;
        if take_one {
            match input.get(pos) {
                Some(&b) if !stops.contains(b) => start += utf8_len(b),
                _ => return None,
            }
        }
        let q = start + targets.find(&input[start..])?;
        return next_small.contains(input[q]).then_some(q);
    }
    let mut take = take_one;
    loop {
        if !take {
            match (next, input.get(pos)) {
                (None, _) => return Some(pos),
                (Some(set), Some(&b)) if set.contains(b) => return Some(pos),
                _ => {}
            }
        }
        take = false;
        if *left == 0 {
            return None;
        }
        pos += table.match_at(input, pos)?;
        if *left != UNBOUNDED {
            *left -= 1;
        }
    }
}

/// Scans a run of `table` from `pos`, at most `limit` characters: returns
/// its end and the position after `min` characters, or `None` if shorter
/// than `min`. A class of all but a few ASCII bytes scans with `memchr`.
#[inline]
pub(super) fn scan_run(
    table: &ClassTable,
    input: &[u8],
    pos: usize,
    min: u32,
    limit: u32,
) -> Option<(usize, usize)> {
    if limit == UNBOUNDED
        && min <= 1
        && let Some(stops) = table.stops
    {
        let end = stops.find(&input[pos..]).map_or(input.len(), |i| pos + i);
        if end == pos {
            return (min == 0).then_some((pos, pos));
        }
        let min_pos = if min == 1 {
            pos + utf8_len(input[pos])
        } else {
            pos
        };
        return Some((end, min_pos));
    }
    let mut count = 0u32;
    let mut p = pos;
    let mut min_pos = pos;
    while count < limit {
        // ASCII members sixteen at a time; one character at a time only for
        // non-ASCII text and the input's last fifteen bytes.
        if BLOCK_SCAN && let Some(members) = table.leading_ascii_members(input, p) {
            let take = (members as u32).min(limit - count);
            if count < min && min <= count + take {
                min_pos = p + (min - count) as usize;
            }
            p += take as usize;
            count += take;
            if take == 16 {
                continue;
            }
            if count == limit || input[p] < 128 {
                break;
            }
        }
        match table.match_at(input, p) {
            Some(len) => p += len,
            None => break,
        }
        count += 1;
        if count == min {
            min_pos = p;
        }
    }
    (count >= min).then_some((p, min_pos))
}

/// Whether runs are scanned sixteen bytes at a time. In WebAssembly that
/// saves a loop turn and a deadline check per character; natively the plain
/// loop measured 3-5% faster over the access log, since most runs are a few
/// characters long. Tests take the block path everywhere.
const BLOCK_SCAN: bool = cfg!(any(target_arch = "wasm32", test));

/// Length of the UTF-8 sequence a lead byte starts.
#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead {
        0..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}
