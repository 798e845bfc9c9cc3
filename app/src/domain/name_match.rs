//! Whether the name an attorney gives is the name on their bar's roster.
//! Rosters and people write names differently: "GARCÍA, José A." on the
//! roster is "Jose Garcia" at sign-up. The comparison ignores case,
//! accents, punctuation, middle initials, generational suffixes and the
//! order of given and family names; a spelled-out middle name on one side
//! may stand against its initial on the other.

use unicode_normalization::UnicodeNormalization;

/// Suffixes that rosters and people add or leave out at will.
const SUFFIXES: [&str; 7] = ["jr", "sr", "ii", "iii", "iv", "esq", "esquire"];

/// A name reduced to its words (two letters or more, sorted) and its
/// initials (single letters, sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameKey {
    words: Vec<String>,
    initials: Vec<char>,
}

impl NameKey {
    pub fn of(name: &str) -> Self {
        let mut plain = String::with_capacity(name.len());
        for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
            match c {
                // Apostrophes join: O'Brien is OBrien.
                '\'' | '’' | 'ʼ' => {}
                'ß' => plain.push_str("ss"),
                'æ' | 'Æ' => plain.push_str("ae"),
                'œ' | 'Œ' => plain.push_str("oe"),
                'ø' | 'Ø' => plain.push('o'),
                'ł' | 'Ł' => plain.push('l'),
                'đ' | 'Đ' => plain.push('d'),
                c if c.is_alphabetic() => plain.extend(c.to_lowercase()),
                _ => plain.push(' '),
            }
        }
        let mut words = Vec::new();
        let mut initials = Vec::new();
        for word in plain.split_whitespace() {
            let mut chars = word.chars();
            match (chars.next(), chars.next()) {
                (Some(only), None) => initials.push(only),
                _ if SUFFIXES.contains(&word) => {}
                _ => words.push(word.to_owned()),
            }
        }
        words.sort();
        initials.sort_unstable();
        Self { words, initials }
    }

    /// The words joined: equal for names written the same way up to case,
    /// accents, punctuation, order and initials. Stored beside roster rows
    /// to find the entry closest to a name.
    pub fn index_key(&self) -> String {
        self.words.join(" ")
    }

    /// The same person's name, allowing for a middle name written out on
    /// one side and as an initial on the other, or left out by a side that
    /// gives no initial to contradict it.
    pub fn matches(&self, other: &NameKey) -> bool {
        let (only_self, only_other, shared) = multiset_difference(&self.words, &other.words);
        if shared == 0 {
            return false;
        }
        if covered_by_initials(&only_self, &other.initials)
            && covered_by_initials(&only_other, &self.initials)
        {
            return true;
        }
        let left_out_by_other = only_other.is_empty() && other.initials.is_empty();
        let left_out_by_self = only_self.is_empty() && self.initials.is_empty();
        shared >= 2 && (left_out_by_other || left_out_by_self)
    }
}

/// Words only in `a`, words only in `b`, and how many both have.
fn multiset_difference<'a>(
    a: &'a [String],
    b: &'a [String],
) -> (Vec<&'a str>, Vec<&'a str>, usize) {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                shared += 1;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(x.as_str());
                i += 1;
            }
            (Some(x), None) => {
                only_a.push(x.as_str());
                i += 1;
            }
            (_, Some(y)) => {
                only_b.push(y.as_str());
                j += 1;
            }
            (None, None) => unreachable!("the loop condition excludes this"),
        }
    }
    (only_a, only_b, shared)
}

/// Each word is matched by a distinct initial.
fn covered_by_initials(words: &[&str], initials: &[char]) -> bool {
    let mut available = initials.to_vec();
    words.iter().all(|word| {
        let first = word.chars().next();
        match available.iter().position(|c| Some(*c) == first) {
            Some(at) => {
                available.remove(at);
                true
            }
            None => false,
        }
    })
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        NameKey::of(a).matches(&NameKey::of(b)) && NameKey::of(b).matches(&NameKey::of(a))
    }

    #[test]
    fn ignores_case_accents_punctuation_order_and_initials() {
        assert!(same("José Álvarez-García", "JOSE ALVAREZ GARCIA"));
        assert!(same("GARCÍA, José A.", "Jose Garcia"));
        assert!(same("Jane Q. Doe", "Doe, Jane"));
        assert!(same("Jane Quinn Doe", "Jane Q Doe"));
        assert!(same("Jane Quinn Doe", "Jane Doe"), "a middle name left out");
        assert!(same("Seán O’Brien Jr.", "sean obrien"));
        assert!(same("Nguyễn Văn An", "An Van Nguyen"));
        assert!(same("Jürgen Straße", "Jurgen Strasse"));
        assert!(same("Ｊａｎｅ Ｄｏｅ", "Jane Doe"));
    }

    #[test]
    fn different_people_do_not_match() {
        assert!(!same("Jane Doe", "John Doe"));
        assert!(!same("Jane Doe", "Jane Roe"));
        assert!(
            !same("Jane Quinn Doe", "Jane R. Doe"),
            "the initial contradicts"
        );
        assert!(!same("Jane Doe", "Doe"), "one shared word is not enough");
        assert!(!same("Q. X.", "Q. X."), "initials alone prove nothing");
        assert!(!same("", ""));
        // A Cyrillic "а" looks like the Latin one but is another letter:
        // a lookalike name goes to a human, never straight to verified.
        assert!(!same("J\u{0430}ne Doe", "Jane Doe"));
    }

    #[test]
    fn index_key_ignores_order_and_initials() {
        assert_eq!(NameKey::of("Doe, Jane Q.").index_key(), "doe jane");
        assert_eq!(NameKey::of("JANE DOE").index_key(), "doe jane");
    }
}
