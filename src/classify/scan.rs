//! The JSON rules' fast path: one loop over the bytes that finds the string at a path
//! in the common case (a valid object whose type is a plain string) and says "not
//! sure" for everything else, which serde_json then decides.
//!
//! Why: at catch-up, serde_json's visitor scan was half of the ingest thread's time
//! (perf, 1M 200-byte events). Measured alone (`benches/classify.rs`, same run):
//! 202-211 ns against serde_json's 329-348 ns for a 200-byte event, 0.55-0.7x at every
//! size. The rule here is one-sided: an answer is given only for input serde_json
//! accepts with that same answer, so any doubt (escapes where keys are compared, numbers on the path,
//! nesting beyond [`MAX_SKIP_DEPTH`], invalid UTF-8 anywhere, any syntax error) costs
//! speed, never correctness. `tests` below and the `json_rule` fuzz target check this
//! against serde_json on hostile input.

/// Deepest nesting skipped here; deeper documents go to serde_json (one bit a level).
const MAX_SKIP_DEPTH: u32 = 64;

/// Longest path walked here; serde_json's limit is 128 levels in all.
const MAX_PATH: usize = 64;

/// What is at the path, when the document is sure to be valid.
enum Found<'a> {
    Missing,
    NotAString,
    /// Its raw bytes (no escapes: its text), which the caller turns into a `&str`.
    String(&'a [u8]),
}

/// The string at `path` (object keys, or array indexes as in RFC 6901) in `value`,
/// when `value` is a JSON object serde_json accepts and that string has no escapes;
/// `None` when not sure.
pub fn plain_string_at<'a>(value: &'a [u8], path: &[String]) -> Option<&'a str> {
    if path.is_empty() || path.len() > MAX_PATH {
        return None;
    }
    let mut scan = Scanner {
        bytes: value,
        pos: 0,
    };
    scan.whitespace();
    if scan.peek()? != b'{' {
        return None;
    }
    let found = scan.object_on_path(path)?;
    scan.whitespace();
    if scan.pos != value.len() {
        return None;
    }
    match found {
        Found::String(s) => std::str::from_utf8(s).ok(),
        Found::Missing | Found::NotAString => None,
    }
}

/// `"`, `\\`, a control character or a non-ASCII byte: what ends a run of plain
/// ASCII string text.
fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || !(0x20..0x80).contains(&byte)
}

/// The index of the first [`is_special`] byte of eight (read little-endian), by
/// an exact SWAR zero-byte test (no carry crosses bytes).
fn first_special(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // 0x80 in each byte of `v` that is zero, exactly.
    let zero_bytes = |v: u64| !(((v & LOW7) + LOW7) | v | LOW7);
    let mask = zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
        | zero_bytes(word & (ONES * 0xe0))
        | (word & (ONES * 0x80));
    (mask != 0).then(|| mask.trailing_zeros() as usize / 8)
}

/// A position in a value. Every string it passes is checked to be UTF-8, stricter
/// than serde_json (which lets invalid UTF-8 pass in strings it skips: such a value
/// is only "not sure"), and no byte outside strings can be non-ASCII in JSON that
/// scans: so a value that scans is valid UTF-8 throughout. Checking each string,
/// rather than the whole value first, reads the bytes once instead of twice.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    #[inline(always)]
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string, from its opening quote: its raw text and whether it has escapes.
    /// Checks what serde_json checks of a string it skips: escapes are one of
    /// `"\\/bfnrt` or `u` and four hex digits, no control characters. Eight bytes
    /// at a time to the next byte that matters: a byte-by-byte loop (a branch a
    /// byte) was 46% of the scan.
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        let bytes = self.bytes;
        let mut pos = self.pos;
        if bytes.get(pos) != Some(&b'"') {
            return None;
        }
        pos += 1;
        let start = pos;
        let (mut escaped, mut ascii) = (false, true);
        loop {
            match bytes.get(pos..pos + 8).and_then(|c| c.try_into().ok()) {
                Some(chunk) => match first_special(u64::from_le_bytes(chunk)) {
                    Some(at) => pos += at,
                    None => {
                        pos += 8;
                        continue;
                    }
                },
                None => {
                    while bytes.get(pos).is_some_and(|&b| !is_special(b)) {
                        pos += 1;
                    }
                }
            }
            match *bytes.get(pos)? {
                b'"' => {
                    let raw = bytes.get(start..pos)?;
                    if !ascii && std::str::from_utf8(raw).is_err() {
                        return None;
                    }
                    self.pos = pos + 1;
                    return Some((raw, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *bytes.get(pos + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => pos += 2,
                        b'u' => {
                            let hex = bytes.get(pos + 2..pos + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            pos += 6;
                        }
                        _ => return None,
                    }
                }
                0x80..=0xff => {
                    ascii = false;
                    pos += 1;
                }
                _ => return None,
            }
        }
    }

    /// `true`, `false` or `null`.
    #[inline(always)]
    fn literal(&mut self) -> Option<()> {
        let word: &[u8] = match self.peek()? {
            b't' => b"true",
            b'f' => b"false",
            _ => b"null",
        };
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    #[inline(always)]
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number by JSON's grammar: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    #[inline(always)]
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => _ = self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// A container's `open` and, when it closes at once, its `close`: whether it
    /// is empty.
    #[inline(always)]
    fn opening(&mut self, open: u8, close: u8) -> Option<bool> {
        self.expect(open)?;
        self.whitespace();
        let empty = self.peek()? == close;
        self.pos += usize::from(empty);
        Some(empty)
    }

    /// `"key"` and its colon, with the whitespace around them.
    #[inline(always)]
    fn key(&mut self) -> Option<(&'a [u8], bool)> {
        self.whitespace();
        let key = self.string()?;
        self.whitespace();
        self.expect(b':')?;
        self.whitespace();
        Some(key)
    }

    /// Any value, from its first byte, without recursion: a bit a level says object
    /// (1) or array (0).
    fn skip_value(&mut self) -> Option<()> {
        let mut objects: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value starts here.
            self.whitespace();
            let opened = match self.peek()? {
                open @ (b'{' | b'[') => {
                    let object = open == b'{';
                    if self.opening(open, if object { b'}' } else { b']' })? {
                        false
                    } else {
                        if depth == MAX_SKIP_DEPTH {
                            return None;
                        }
                        objects = objects << 1 | u64::from(object);
                        depth += 1;
                        if object {
                            self.key()?;
                        }
                        true
                    }
                }
                b'"' => self.string().map(|_| false)?,
                b'-' | b'0'..=b'9' => self.number().map(|_| false)?,
                b't' | b'f' | b'n' => self.literal().map(|_| false)?,
                _ => return None,
            };
            if opened {
                continue;
            }
            // The value ended: close what ends here, up to the next value.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.whitespace();
                let in_object = objects & 1 == 1;
                match (self.next()?, in_object) {
                    (b',', true) => {
                        self.key()?;
                        break;
                    }
                    (b',', false) => break,
                    (b'}', true) | (b']', false) => {
                        objects >>= 1;
                        depth -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// The value at `path` in the value starting here (serde_json parses values on
    /// the path fully: numbers there go to it).
    fn value_on_path(&mut self, path: &[String]) -> Option<Found<'a>> {
        let found = match self.peek()? {
            b'{' | b'[' if path.is_empty() => {
                self.skip_value()?;
                Found::NotAString
            }
            b'{' => self.object_on_path(path)?,
            b'[' => self.array_on_path(path)?,
            b'"' => match self.string()? {
                (_, true) => return None,
                (s, false) if path.is_empty() => Found::String(s),
                _ => Found::Missing,
            },
            b't' | b'f' | b'n' => {
                self.literal()?;
                if path.is_empty() {
                    Found::NotAString
                } else {
                    Found::Missing
                }
            }
            _ => return None,
        };
        Some(found)
    }

    /// An object, from its `{`: the last value under `path[0]`, followed further.
    fn object_on_path(&mut self, path: &[String]) -> Option<Found<'a>> {
        let (wanted, rest) = path.split_first()?;
        if self.opening(b'{', b'}')? {
            return Some(Found::Missing);
        }
        let mut found = Found::Missing;
        loop {
            let (key, escaped) = self.key()?;
            if escaped {
                return None;
            }
            if !self.member(key == wanted.as_bytes(), rest, &mut found, b'}')? {
                return Some(found);
            }
        }
    }

    /// A member's value or an element, followed along `rest` when `wanted` (into
    /// `found`) and skipped otherwise, then its `,` (true: more follow) or the
    /// container's `close` (false).
    fn member(
        &mut self,
        wanted: bool,
        rest: &[String],
        found: &mut Found<'a>,
        close: u8,
    ) -> Option<bool> {
        if wanted {
            *found = self.value_on_path(rest)?;
        } else {
            self.skip_value()?;
        }
        self.whitespace();
        match self.next()? {
            b',' => Some(true),
            byte if byte == close => Some(false),
            _ => None,
        }
    }

    /// An array, from its `[`: the element at index `path[0]`, followed further.
    fn array_on_path(&mut self, path: &[String]) -> Option<Found<'a>> {
        let (wanted, rest) = path.split_first()?;
        let wanted = super::array_index(wanted);
        if self.opening(b'[', b']')? {
            return Some(Found::Missing);
        }
        let mut found = Found::Missing;
        for index in 0.. {
            self.whitespace();
            if !self.member(wanted == Some(index), rest, &mut found, b']')? {
                break;
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::serde_string_at;
    use proptest::prelude::*;
    use std::borrow::Cow;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    /// The fast path's answer, checked against serde_json's.
    fn fast(value: &[u8], p: &[&str]) -> Option<String> {
        let p = path(p);
        let found = plain_string_at(value, &p);
        if let Some(s) = found {
            assert_eq!(
                serde_string_at(value, &p),
                Ok(Cow::Borrowed(s)),
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        found.map(str::to_owned)
    }

    #[test]
    fn first_special_finds_the_first_quote_backslash_or_control_byte() {
        for len in 0..=8 {
            for special in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xc3, 0xff] {
                for plain in [b'a', b' ', 0x7f, b'!', b'#', b'[', b']', b'~'] {
                    let mut chunk = [plain; 8];
                    if len < 8 {
                        chunk[len] = special;
                        chunk[7] = special;
                    }
                    let word = u64::from_le_bytes(chunk);
                    let expected = chunk.iter().position(|&b| is_special(b));
                    assert_eq!(first_special(word), expected, "{chunk:?}");
                }
            }
        }
    }

    #[test]
    fn answers_the_common_case() {
        let doc = br#" { "meta" : {"source":"ward-7", "n":[1,-2.5e3,{}]} , "type":"blood_pressure","ok":true,"x":null } "#;
        assert_eq!(fast(doc, &["type"]).as_deref(), Some("blood_pressure"));
        assert_eq!(fast(doc, &["meta", "source"]).as_deref(), Some("ward-7"));
        let dup = br#"{"type":"a","type":{"type":"b"},"type":"c"}"#;
        assert_eq!(fast(dup, &["type"]).as_deref(), Some("c"));
        let list = br#"{"list":[{"type":"a"},["b"],"c"]}"#;
        assert_eq!(fast(list, &["list", "1", "0"]).as_deref(), Some("b"));
        assert_eq!(fast(list, &["list", "2"]).as_deref(), Some("c"));
        // Escapes in skipped strings are checked, not decoded.
        let escaped = br#"{"note":"a\"b\\c\u00e9\/\n","type":"x"}"#;
        assert_eq!(fast(escaped, &["type"]).as_deref(), Some("x"));
    }

    #[test]
    fn leaves_to_serde_json_what_it_is_not_sure_of() {
        let unsure: &[(&[u8], &[&str])] = &[
            // An escaped key could be the wanted one; an escaped type needs decoding.
            (br#"{"t\u0079pe":"a"}"#, &["type"]),
            (br#"{"type":"a\u00e9"}"#, &["type"]),
            // A number on the path is parsed (and range-checked) by serde_json.
            (br#"{"type":1e400}"#, &["type"]),
            // Invalid UTF-8, even in a string serde_json skips unchecked.
            (b"{\"note\":\"\xff\",\"type\":\"a\"}", &["type"]),
            // Missing field, not a string, not an object: serde_json names the reason.
            (br#"{"kind":"a"}"#, &["type"]),
            (br#"{"type":["a"]}"#, &["type"]),
            (br#"["type","a"]"#, &["type"]),
            // Syntax errors of every sort.
            (br#"{"type":"a",}"#, &["type"]),
            (br#"{"type":"a"} x"#, &["type"]),
            (br#"{"type":"a","n":01}"#, &["type"]),
            (br#"{"type":"a","n":1.}"#, &["type"]),
            (br#"{"type":"a","n":[1,]}"#, &["type"]),
            (br#"{"type":"a","n":tru}"#, &["type"]),
            (br#"{"type":"a","n":"\x"}"#, &["type"]),
            (b"{\"type\":\"a\",\"n\":\"\x01\"}", &["type"]),
            (br#"{"type":"a""#, &["type"]),
        ];
        for (value, p) in unsure {
            assert_eq!(fast(value, p), None, "{}", String::from_utf8_lossy(value));
        }
        // Deeper than the skip stack: serde_json decides (and skips it without limit).
        let deep = |n: usize| format!(r#"{{"n":{}1{},"type":"a"}}"#, "[".repeat(n), "]".repeat(n));
        let limit = MAX_SKIP_DEPTH as usize;
        assert_eq!(
            fast(deep(limit).as_bytes(), &["type"]).as_deref(),
            Some("a")
        );
        assert_eq!(fast(deep(limit + 1).as_bytes(), &["type"]), None);
        assert_eq!(
            serde_string_at(deep(100_000).as_bytes(), &path(&["type"])),
            Ok(Cow::Borrowed("a"))
        );
    }

    /// JSON text, mostly valid, with what parsers get wrong: escapes, surrogates,
    /// number edge cases, duplicate and escaped keys, whitespace, non-ASCII.
    fn json_text() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", "", " ", "\n\t", "\r"]);
        let string = prop::collection::vec(
            prop::sample::select(vec![
                "a",
                "type",
                "é",
                "\\\"",
                "\\\\",
                "\\/",
                "\\n",
                "\\u0041",
                "\\ud800",
                "\\uDC00",
                "\\u00",
                "\\x",
                "\u{1}",
                "\\",
                "\u{10348}",
            ]),
            0..4,
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat()));
        let number = "-?(0|[1-9][0-9]{0,3}|00)(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,4})?";
        let leaf = prop_oneof![
            prop::sample::select(vec!["null", "true", "false", "nul", "1e400", "-"])
                .prop_map(str::to_owned),
            number.prop_map(|n| n),
            string.clone(),
        ];
        let key = prop_oneof![
            4 => prop::sample::select(vec!["\"type\"", "\"meta\"", "\"list\"", "\"0\""]).prop_map(str::to_owned),
            1 => string,
        ];
        leaf.prop_recursive(6, 48, 5, move |inner| {
            let ws = ws.clone();
            prop_oneof![
                (
                    prop::collection::vec((inner.clone(), ws.clone()), 0..5),
                    ws.clone()
                )
                    .prop_map(|(items, w)| {
                        let items: Vec<String> = items
                            .into_iter()
                            .map(|(v, w2)| format!("{w2}{v}{w2}"))
                            .collect();
                        format!("[{w}{}]", items.join(","))
                    }),
                prop::collection::vec((key.clone(), inner, ws.clone()), 0..5).prop_map(|fields| {
                    let fields: Vec<String> = fields
                        .into_iter()
                        .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}"))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    /// A document around `inner` with the type field somewhere in it, then damaged
    /// (or not) at a few places.
    fn document() -> impl Strategy<Value = Vec<u8>> {
        let typed = prop::sample::select(vec![r#""type":"a""#, r#""type":"b c""#, r#""type":"é""#]);
        let damage = prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::sample::select(vec![
                    &b""[..],
                    b",",
                    b"}",
                    b"]",
                    b"\"",
                    b"\\",
                    b"{",
                    b"[",
                    b":",
                    "\u{ff}".as_bytes(),
                    // Not UTF-8: a lone continuation byte, a cut sequence, a surrogate.
                    b"\x80",
                    b"\xe2\x82",
                    b"\xed\xa0\x80",
                ]),
            ),
            0..3,
        );
        (json_text(), json_text(), typed, any::<bool>(), damage).prop_map(
            |(a, b, typed, first, damage)| {
                let mut doc = if first {
                    format!(r#"{{{typed},"meta":{a},"list":{b}}}"#)
                } else {
                    format!(r#"{{"meta":{a},"list":{b},{typed}}}"#)
                }
                .into_bytes();
                for (at, insert) in damage {
                    let at = at.index(doc.len() + 1);
                    // Replace the byte there (or insert at the end).
                    doc.splice(at..(at + 1).min(doc.len()), insert.iter().copied());
                }
                doc
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whenever the fast path answers, serde_json answers the same (`fast`
        /// asserts it), on every path the rules use.
        #[test]
        fn every_answer_is_serde_jsons(doc in document()) {
            for p in [&["type"][..], &["meta", "type"], &["list", "0"], &["list", "0", "type"], &["meta", "0"]] {
                fast(&doc, p);
            }
        }

        /// And it answers for valid documents with a string type and no escapes,
        /// which is what makes it fast (serde_json re-serializes them: sure valid).
        #[test]
        fn valid_documents_get_an_answer(doc in document()) {
            if let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(&doc) {
                let canonical = serde_json::to_vec(&parsed).unwrap_or_default();
                let expected = serde_string_at(&canonical, &path(&["type"]));
                // Escaped keys and types are left to serde_json.
                if expected.is_ok() && !canonical.contains(&b'\\') {
                    prop_assert!(fast(&canonical, &["type"]).is_some());
                }
            }
        }
    }
}
