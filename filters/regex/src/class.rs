//! Character classes: one character of input tested against a set.
//!
//! Most log text is ASCII, so a class keeps a 128-entry table that answers an
//! ASCII byte with one load. Everything else (ranges of code points and the
//! Unicode-aware POSIX brackets, which Ruby applies to UTF-8 text) is checked
//! only for the rare non-ASCII character.

/// A Unicode property that Ruby's POSIX brackets (`[[:alnum:]]`) test for
/// non-ASCII characters. Ruby's `\w`, `\d`, `\s` and `\h` are ASCII-only and
/// never use these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    Alnum,
    Alpha,
    Upper,
    Lower,
    Space,
    Digit,
    Word,
    Punct,
    Graph,
    Print,
    Cntrl,
    Blank,
    XDigit,
    Ascii,
}

impl Property {
    /// Onigmo's Unicode definitions (Ruby's `tool/enc-unicode.rb` derives
    /// them): alpha is Alphabetic, digit is Nd, alnum their union, word
    /// Alphabetic, Mark, Nd and Pc, punct the P categories, cntrl Cc, space
    /// White_Space, graph all but White_Space, Cc, Cs and Cn, print graph
    /// and Zs. Rust's `is_alphanumeric` and `is_numeric` take in No (`²`,
    /// `½`), which none of these does.
    fn test(self, c: char) -> bool {
        match self {
            Property::Alnum => c.is_alphabetic() || decimal(c),
            Property::Alpha => c.is_alphabetic(),
            Property::Upper => c.is_uppercase(),
            Property::Lower => c.is_lowercase(),
            Property::Space => c.is_whitespace(),
            Property::Digit => decimal(c),
            // Perl's word set, less the Join_Control pair (Cf) it adds.
            Property::Word => {
                regex_syntax::is_word_character(c) && !matches!(c, '\u{200c}' | '\u{200d}')
            }
            Property::Punct => in_ranges(categories::PUNCTUATION, c),
            Property::Graph => {
                !c.is_whitespace() && !c.is_control() && !in_ranges(categories::UNASSIGNED, c)
            }
            Property::Print => Property::Graph.test(c) || Property::Blank.test(c),
            Property::Cntrl => c.is_control(),
            // Unicode's space separators (Zs), unchanged since Unicode 6.3.
            Property::Blank => matches!(
                c,
                '\u{a0}' | '\u{1680}' | '\u{2000}'
                    ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
            ),
            Property::XDigit | Property::Ascii => false,
        }
    }

    /// The ASCII members, as POSIX defines them.
    fn ascii(self, b: u8) -> bool {
        match self {
            Property::Alnum => b.is_ascii_alphanumeric(),
            Property::Alpha => b.is_ascii_alphabetic(),
            Property::Upper => b.is_ascii_uppercase(),
            Property::Lower => b.is_ascii_lowercase(),
            Property::Space => matches!(b, b' ' | b'\t'..=b'\r'),
            Property::Digit => b.is_ascii_digit(),
            Property::Word => b.is_ascii_alphanumeric() || b == b'_',
            Property::Punct => b.is_ascii_punctuation(),
            Property::Graph => b.is_ascii_graphic(),
            Property::Print => b.is_ascii_graphic() || b == b' ',
            Property::Cntrl => b.is_ascii_control(),
            Property::Blank => b == b' ' || b == b'\t',
            Property::XDigit => b.is_ascii_hexdigit(),
            Property::Ascii => true,
        }
    }

    pub fn from_posix_name(name: &str) -> Option<Property> {
        Some(match name {
            "alnum" => Property::Alnum,
            "alpha" => Property::Alpha,
            "upper" => Property::Upper,
            "lower" => Property::Lower,
            "space" => Property::Space,
            "digit" => Property::Digit,
            "word" => Property::Word,
            "punct" => Property::Punct,
            "graph" => Property::Graph,
            "print" => Property::Print,
            "cntrl" => Property::Cntrl,
            "blank" => Property::Blank,
            "xdigit" => Property::XDigit,
            "ascii" => Property::Ascii,
            _ => return None,
        })
    }
}

/// The general categories the POSIX brackets need and `char` does not
/// answer, as sorted code point ranges that build.rs takes from
/// `regex-syntax`'s tables.
mod categories {
    include!(concat!(env!("OUT_DIR"), "/categories.rs"));
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn decimal(c: char) -> bool {
    in_ranges(categories::DECIMAL_NUMBER, c)
}

/// A set of characters, built while parsing and then frozen into a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharClass {
    ascii: [bool; 128],
    /// Non-ASCII code point ranges, inclusive.
    ranges: Vec<(char, char)>,
    properties: Vec<(Property, bool)>,
    /// Nested negated sets (`[^...]` inside a class, `[[:^alpha:]]`), whose
    /// non-ASCII members cannot be listed as ranges.
    negated_parts: Vec<CharClass>,
    negated: bool,
}

impl Default for CharClass {
    fn default() -> CharClass {
        CharClass {
            ascii: [false; 128],
            ranges: Vec::new(),
            properties: Vec::new(),
            negated_parts: Vec::new(),
            negated: false,
        }
    }
}

/// By hand, for the compiler's map of classes to their numbers: derived, the
/// ASCII table went to the hasher one `bool` at a time, most of the time a
/// pattern with a million classes took to compile.
impl std::hash::Hash for CharClass {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.ascii.map(u8::from));
        self.ranges.hash(state);
        self.properties.hash(state);
        self.negated_parts.hash(state);
        self.negated.hash(state);
    }
}

impl CharClass {
    pub fn new() -> CharClass {
        CharClass::default()
    }

    /// `.` with dot-all, or any class that accepts every character.
    pub fn any() -> CharClass {
        CharClass::new().negate()
    }

    pub fn single(c: char) -> CharClass {
        let mut class = CharClass::new();
        class.add_range(c, c);
        class
    }

    pub fn add_range(&mut self, low: char, high: char) {
        for b in (low as u32)..=(high as u32).min(127) {
            self.ascii[b as usize] = true;
        }
        if (high as u32) >= 128 {
            let low = char::from_u32((low as u32).max(128)).unwrap_or('\u{80}');
            self.ranges.push((low, high));
        }
    }

    pub fn add_ascii_if(&mut self, test: impl Fn(u8) -> bool) {
        for b in 0..128u8 {
            if test(b) {
                self.ascii[b as usize] = true;
            }
        }
    }

    pub fn add_property(&mut self, property: Property, negated: bool) {
        for b in 0..128u8 {
            if property.ascii(b) != negated {
                self.ascii[b as usize] = true;
            }
        }
        self.properties.push((property, negated));
    }

    pub fn remove_ascii(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.ascii[b as usize] = false;
        }
    }

    /// Adds every member of `other` (a nested class, `\w`, ...).
    pub fn add_class(&mut self, other: &CharClass) {
        for b in 0..128u8 {
            if other.contains_ascii(b) {
                self.ascii[b as usize] = true;
            }
        }
        if other.negated || !other.negated_parts.is_empty() {
            self.negated_parts.push(other.clone());
        } else {
            self.ranges.extend_from_slice(&other.ranges);
            self.properties.extend_from_slice(&other.properties);
        }
    }

    /// Whether the class is one character and nothing else.
    pub fn is_single(&self) -> bool {
        let ascii = self.ascii.iter().filter(|&&b| b).count();
        !self.negated
            && self.properties.is_empty()
            && self.negated_parts.is_empty()
            && match (ascii, self.ranges.as_slice()) {
                (1, []) => true,
                (0, [(low, high)]) => low == high,
                _ => false,
            }
    }

    pub fn negate(mut self) -> CharClass {
        self.negated = !self.negated;
        self
    }

    /// The class, negated when `negated` says so (`\P`, `[^...]`).
    pub fn negate_if(self, negated: bool) -> CharClass {
        if negated { self.negate() } else { self }
    }

    /// Adds the other case of every ASCII letter, for `(?i)`.
    pub fn fold_ascii_case(&mut self) {
        for b in b'a'..=b'z' {
            let upper = b.to_ascii_uppercase() as usize;
            let either = self.ascii[b as usize] || self.ascii[upper];
            self.ascii[b as usize] = either;
            self.ascii[upper] = either;
        }
    }

    fn contains_ascii(&self, b: u8) -> bool {
        self.ascii[b as usize] != self.negated
    }

    fn contains_non_ascii(&self, c: char) -> bool {
        let member = self.ranges.iter().any(|&(l, h)| l <= c && c <= h)
            || self.properties.iter().any(|&(p, neg)| p.test(c) != neg)
            || self.negated_parts.iter().any(|part| part.contains(c));
        member != self.negated
    }

    pub fn contains(&self, c: char) -> bool {
        if c.is_ascii() {
            self.contains_ascii(c as u8)
        } else {
            self.contains_non_ascii(c)
        }
    }

    /// Whether some non-ASCII character may be a member.
    fn may_contain_non_ascii(&self) -> bool {
        self.negated
            || !self.ranges.is_empty()
            || !self.properties.is_empty()
            || !self.negated_parts.is_empty()
    }

    /// The lower case of the one ASCII letter this class stands for in
    /// either case and nothing else, as `(?i)` makes `a` (`k` and `s` fold
    /// beyond ASCII too, so they are not such a pair).
    pub fn as_ascii_letter_pair(&self) -> Option<u8> {
        if self.may_contain_non_ascii() {
            return None;
        }
        let mut members = (0..128u8).filter(|&b| self.ascii[b as usize]);
        match (members.next(), members.next(), members.next()) {
            (Some(upper), Some(lower), None)
                if upper.is_ascii_uppercase() && upper.to_ascii_lowercase() == lower =>
            {
                Some(lower)
            }
            _ => None,
        }
    }

    /// The single character this class stands for, if it has exactly one.
    pub fn as_single_byte(&self) -> Option<u8> {
        if self.may_contain_non_ascii() {
            return None;
        }
        let mut members = (0..128u8).filter(|&b| self.ascii[b as usize]);
        let first = members.next()?;
        members.next().is_none().then_some(first)
    }

    pub fn freeze(&self) -> ClassTable {
        let mut ascii = [false; 128];
        for b in 0..128u8 {
            ascii[b as usize] = self.contains_ascii(b);
        }
        // Every non-ASCII character is a member exactly when the class is a
        // negation of ASCII-only members.
        let all_non_ascii = self.negated
            && self.ranges.is_empty()
            && self.properties.is_empty()
            && self.negated_parts.is_empty();
        let excluded: Vec<u8> = (0..128u8).filter(|&b| !ascii[b as usize]).collect();
        ClassTable {
            ascii,
            rows: super::ascii_block::rows_of(&ascii),
            non_ascii: self.may_contain_non_ascii().then(|| Box::new(self.clone())),
            stops: (all_non_ascii && excluded.len() <= 3).then(|| SmallBytes::new(&excluded)),
        }
    }
}

/// Up to three ASCII bytes, searched for with `memchr`.
#[derive(Clone, Copy, Debug)]
pub struct SmallBytes {
    len: u8,
    bytes: [u8; 3],
}

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> SmallBytes {
        let mut small = SmallBytes {
            len: bytes.len() as u8,
            bytes: [0; 3],
        };
        small.bytes[..bytes.len()].copy_from_slice(bytes);
        small
    }

    /// The union with `other`, if it still fits.
    pub fn union(&self, other: &SmallBytes) -> Option<SmallBytes> {
        let mut all: Vec<u8> = self.bytes[..self.len as usize].to_vec();
        for &b in &other.bytes[..other.len as usize] {
            if !all.contains(&b) {
                all.push(b);
            }
        }
        (all.len() <= 3).then(|| SmallBytes::new(&all))
    }

    pub fn contains(&self, b: u8) -> bool {
        self.bytes[..self.len as usize].contains(&b)
    }

    /// The first index of `haystack` holding one of the bytes.
    #[inline]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        let b = self.bytes;
        match self.len {
            0 => None,
            1 => memchr::memchr(b[0], haystack),
            2 => memchr::memchr2(b[0], b[1], haystack),
            _ => memchr::memchr3(b[0], b[1], b[2], haystack),
        }
    }
}

/// A frozen class as the matcher uses it.
#[derive(Clone, Debug)]
pub struct ClassTable {
    ascii: [bool; 128],
    /// The ASCII members as rows, for sixteen bytes at a time.
    rows: [u8; 16],
    non_ascii: Option<Box<CharClass>>,
    /// For a class of everything but a few ASCII bytes (`.`, `[^"]`,
    /// `[^\\"]`): those bytes, so a run is one `memchr`.
    pub stops: Option<SmallBytes>,
}

impl ClassTable {
    /// Matches one character at `input[pos..]` and returns its length.
    #[inline(always)]
    pub fn match_at(&self, input: &[u8], pos: usize) -> Option<usize> {
        let &b = input.get(pos)?;
        if b < 128 {
            return self.ascii[b as usize].then_some(1);
        }
        let class = self.non_ascii.as_ref()?;
        let (c, len) = decode_utf8(input, pos);
        class.contains(c).then_some(len)
    }

    /// How many of the sixteen bytes at `input[pos..]` are, from the first
    /// on, ASCII members; `None` when fewer than sixteen bytes are left.
    #[inline(always)]
    pub fn leading_ascii_members(&self, input: &[u8], pos: usize) -> Option<usize> {
        let block = input.get(pos..pos + 16)?.try_into().ok()?;
        Some(super::ascii_block::leading_members(&self.rows, block))
    }

    /// Bytes that can begin a member: the ASCII members, plus every UTF-8
    /// lead byte when a non-ASCII character may match.
    pub fn first_bytes(&self) -> ByteSet {
        let mut set = ByteSet::default();
        for b in 0..128u8 {
            if self.ascii[b as usize] {
                set.insert(b);
            }
        }
        if self.non_ascii.is_some() {
            for b in 0xC2..=0xF4 {
                set.insert(b);
            }
        }
        set
    }
}

/// Decodes the character starting at `pos` of valid UTF-8.
#[inline]
pub fn decode_utf8(input: &[u8], pos: usize) -> (char, usize) {
    let b = input[pos];
    let len = match b {
        0..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    let end = (pos + len).min(input.len());
    let c = std::str::from_utf8(&input[pos..end])
        .ok()
        .and_then(|s| s.chars().next())
        .unwrap_or('\u{FFFD}');
    (c, end - pos)
}

/// Whether `\b` and `\B` count `c` as part of a word. Onigmo tests UTF-8
/// text against Unicode's word characters there (its `\w` is ASCII-only in
/// Ruby), and its Latin-1 table adds six digits and fractions Unicode leaves
/// out; the Unicode set is `regex-syntax`'s, rather than a table of our own.
#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    regex_syntax::is_word_character(c) || matches!(c, '²' | '³' | '¹' | '¼'..='¾')
}

/// Whether a word character ends just before `pos`. Positions are
/// character boundaries of UTF-8 text; ASCII, the common case, is one load.
#[inline]
pub fn word_before(input: &[u8], pos: usize) -> bool {
    match pos.checked_sub(1).map(|p| input[p]) {
        None => false,
        Some(b) if b < 0x80 => b.is_ascii_alphanumeric() || b == b'_',
        Some(_) => is_word_char(decode_utf8(input, prev_char_start(input, pos)).0),
    }
}

/// Whether a word character starts at `pos`.
#[inline]
pub fn word_at(input: &[u8], pos: usize) -> bool {
    match input.get(pos) {
        None => false,
        Some(&b) if b < 0x80 => b.is_ascii_alphanumeric() || b == b'_',
        Some(_) => is_word_char(decode_utf8(input, pos).0),
    }
}

/// Whether `c` is a decimal digit (Unicode's `Nd`), as Onigmo tests the
/// first character of a group name.
pub fn is_decimal_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && decimal(c))
}

/// The start of the character that ends just before `pos`.
#[inline]
pub fn prev_char_start(input: &[u8], pos: usize) -> usize {
    let mut p = pos - 1;
    while p > 0 && (input[p] & 0xC0) == 0x80 {
        p -= 1;
    }
    p
}

/// A set of bytes, for pruning: which bytes can come next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    pub fn full() -> ByteSet {
        ByteSet([u64::MAX; 4])
    }
    pub fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    #[inline(always)]
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
    pub fn union(&mut self, other: &ByteSet) {
        for i in 0..4 {
            self.0[i] |= other.0[i];
        }
    }
    pub fn is_disjoint(&self, other: &ByteSet) -> bool {
        (0..4).all(|i| self.0[i] & other.0[i] == 0)
    }
    pub fn is_full(&self) -> bool {
        self.0 == [u64::MAX; 4]
    }

    /// The members, if there are at most three and all are ASCII.
    pub fn small(&self) -> Option<SmallBytes> {
        let members: Vec<u8> = (0..=255u8).filter(|&b| self.contains(b)).take(4).collect();
        (members.len() <= 3 && members.iter().all(u8::is_ascii)).then(|| SmallBytes::new(&members))
    }
}
