//! Phone numbers as the registry keeps them: E.164, North American (+1)
//! only for now. Parsed with the `phonenumber` crate (libphonenumber's
//! metadata) on the server only: its tables would triple the browser
//! bundle.

use serde::{Deserialize, Serialize};

use crate::domain::closed_set::closed_set;

/// A number in E.164 form, e.g. `+12024561111`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PhoneNumber(String);

/// Why a pasted number was refused. Each message names what was read, so
/// the attorney can see which part to fix; an invisible character is named
/// by its code point, never shown raw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Enter a phone number.")]
    Empty,
    #[error("A phone number is at most 40 characters; this one has {0}.")]
    TooLong(usize),
    /// The whole field, label and extension included, is over
    /// [`MAX_FIELD_CHARS`]: refused before anything else is read, so a
    /// field of megabytes costs no more than counting it.
    #[error("A phone field is at most {max} characters, label and extension included; this one has {0}.", max = MAX_FIELD_CHARS)]
    FieldTooLong(usize),
    #[error(
        "The number contains {0}, which is not part of a phone number. Write it like (202) 456-1111 ext. 12."
    )]
    InvalidCharacter(String),
    #[error(
        "We read the letters \"{0}\" in the number: write digits, or a whole word as on a vanity number (1-800-555-LAWS)."
    )]
    StrayLetters(String),
    /// Words where a number belongs ("unlisted", "see website"): a vanity
    /// number has its area code in digits at least.
    #[error(
        "We read the words \"{0}\", not a phone number: a vanity number has its digits too (1-800-555-LAWS)."
    )]
    Words(String),
    /// Seven digits: a local number as written on a card or in a
    /// signature, without its area code.
    #[error("We read the 7-digit local number {0}: add its area code, like (202) {0}.")]
    NoAreaCode(String),
    #[error(
        "We read \"{0}\", which is not a phone number we can read. Write it like (202) 456-1111."
    )]
    Unreadable(String),
    #[error(
        "We read {0}, which is not North American: only numbers of the US, its territories and Canada (+1) can be registered for now."
    )]
    NotNorthAmerican(String),
    #[error(
        "We read {read}, a number in {country}. Only the US, its territories and Canada are accepted: calls to other +1 countries are billed as international, and codes sent there are a known toll-fraud pattern."
    )]
    OtherCountry { read: String, country: &'static str },
    #[error(
        "We read {0}, which is not in use in the North American plan: check the area code and the number of digits (10)."
    )]
    NotAssigned(String),
    #[error("We read {0}, a premium-rate number: premium-rate numbers cannot be registered.")]
    PremiumRate(String),
    #[error("We read the extension \"{0}\": an extension is up to 10 digits.")]
    InvalidExtension(String),
    #[error(
        "The number field has extension {in_number} but the extension field says {in_field}: keep one."
    )]
    ExtensionConflict { in_number: String, in_field: String },
}

/// The longest phone or extension field read, in characters: a number
/// with a label and an extension as signatures write them ("Office tel.:
/// +1 (202) 555-0143 extension 1234567890") is well under it. Longer input
/// is refused before it is folded or searched (issue 24: megabytes of
/// commas once cost minutes of CPU on a runtime thread).
pub const MAX_FIELD_CHARS: usize = 80;

/// The length of `raw` in characters when it is over
/// [`MAX_FIELD_CHARS`]; counts at most one character past the limit.
fn over_the_field_limit(raw: &str) -> Option<usize> {
    if raw.len() <= MAX_FIELD_CHARS {
        // Every character is at least one byte.
        return None;
    }
    raw.chars().nth(MAX_FIELD_CHARS)?;
    Some(raw.chars().count())
}

/// Extension markers people write after a number, as libphonenumber
/// accepts them (`ext`, `ext.`, `x`, `#`, `extension`) plus the comma a
/// phone dials as a pause before the extension. Longest first: at one
/// place "extension" wins over "ext".
#[cfg(feature = "ssr")]
const EXTENSION_MARKERS: [&str; 7] = ["extension", "ext.", "ext:", "ext", "x", "#", ","];

/// The name of a character that shows as nothing (or as a blank), for
/// a message; `None` for a visible one.
fn invisible_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{200E}' => "left-to-right mark",
        '\u{200F}' => "right-to-left mark",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "text-direction control",
        '\u{2060}' => "word joiner",
        '\u{2061}'..='\u{2064}' => "invisible operator",
        '\u{FEFF}' => "zero-width no-break space (byte order mark)",
        '\u{00AD}' => "soft hyphen",
        '\u{180E}' => "Mongolian vowel separator",
        '\u{FE00}'..='\u{FE0F}' => "variation selector",
        '\u{E0000}'..='\u{E007F}' => "tag character",
        c if c.is_control() => "control character",
        c if c.is_whitespace() && c != ' ' => "space other than a plain space",
        _ => return None,
    })
}

/// The character as the attorney should read it in a message: visible
/// ones quoted with their code point, invisible ones by code point and
/// name only (shown raw they would look like nothing).
fn describe_char(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    match invisible_name(c) {
        Some(name) => format!("{code} {name} (an invisible character)"),
        None => format!("\"{c}\" ({code})"),
    }
}

/// Folds what a pasted number may hold into ASCII, as libphonenumber's
/// normalisation does: Unicode dashes (U+2010–U+2015, U+2212, small and
/// full-width hyphen-minus) to `-`, every Unicode space (no-break, narrow
/// no-break, figure, ideographic, tab…) to a space, full-width and Arabic-Indic
/// digits and full-width `()+./#,` to their ASCII forms. Anything else is
/// kept for the caller to judge.
#[cfg(feature = "ssr")]
fn fold(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => '-',
            // Full-width forms sit at U+FF01..U+FF5E, 0xFEE0 above ASCII.
            '\u{FF10}'..='\u{FF19}'
            | '\u{FF08}'
            | '\u{FF09}'
            | '\u{FF0B}'
            | '\u{FF0E}'
            | '\u{FF0F}'
            | '\u{FF03}'
            | '\u{FF0C}'
            | '\u{FF21}'..='\u{FF3A}'
            | '\u{FF41}'..='\u{FF5A}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (u32::from(c) - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (u32::from(c) - 0x06F0) as u8),
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect()
}

/// `text` without a label before the number, as signatures write them
/// ("Tel: ", "Office ", "T. "): words, spaces, `:` and `.` before the first
/// digit, `+` or `(`. libphonenumber drops whatever precedes the number
/// (`extractPossibleNumber`); dropping only words keeps any other stray
/// character there to be named in a refusal.
#[cfg(feature = "ssr")]
fn without_label(text: &str) -> &str {
    let Some(start) = text.find(|c: char| c.is_ascii_digit() || c == '+' || c == '(') else {
        return text;
    };
    let label = &text[..start];
    let is_label = label.contains(|c: char| c.is_ascii_alphabetic())
        && label
            .chars()
            .all(|c| c.is_ascii_alphabetic() || " :.".contains(c))
        // "1-800-FLOWERS" has no label; "LAWS 555-0101" is not one either
        // unless a separator says so.
        && (label.contains(':') || label.trim_end().len() < label.len());
    if is_label { &text[start..] } else { text }
}

/// The digit a letter stands for on a phone keypad (ITU-T E.161).
#[cfg(feature = "ssr")]
fn keypad_digit(letter: char) -> Option<char> {
    Some(match letter.to_ascii_uppercase() {
        'A'..='C' => '2',
        'D'..='F' => '3',
        'G'..='I' => '4',
        'J'..='L' => '5',
        'M'..='O' => '6',
        'P'..='S' => '7',
        'T'..='V' => '8',
        'W'..='Z' => '9',
        _ => return None,
    })
}

/// Splits `folded` at its extension marker: the earliest marker that
/// does not sit inside a word (so the `x` of `TAXI` or the `ext` of
/// `NEXT` are vanity letters) and is followed by digits or nothing.
/// Returns the number part and the extension as written (trimmed).
#[cfg(feature = "ssr")]
fn split_extension(folded: &str) -> (&str, Option<&str>) {
    let lower = folded.to_ascii_lowercase();
    let trimmable = |c: u8| c == b' ' || b".:#".contains(&c);
    // For each byte offset, the first byte at or after it that is not
    // trimmable (one pass from the end), so each marker's "followed by
    // digits or nothing" is answered without rescanning: linear in the
    // input however many markers it holds.
    let bytes = lower.as_bytes();
    let mut next_kept = vec![bytes.len(); bytes.len() + 1];
    for at in (0..bytes.len()).rev() {
        next_kept[at] = if trimmable(bytes[at]) {
            next_kept[at + 1]
        } else {
            at
        };
    }
    let mut best: Option<(usize, usize)> = None;
    let mut previous: Option<char> = None;
    'scan: for (at, c) in lower.char_indices() {
        let before_is_letter = previous.is_some_and(|p| p.is_ascii_alphabetic());
        previous = Some(c);
        for marker in EXTENSION_MARKERS {
            if !lower[at..].starts_with(marker) {
                continue;
            }
            let word = marker.starts_with(|c: char| c.is_ascii_alphabetic());
            let kept = next_kept[at + marker.len()];
            let follows = kept == bytes.len() || bytes[kept].is_ascii_digit();
            if (word && before_is_letter) || !follows || at == 0 {
                continue;
            }
            best = Some((at, marker.len()));
            break 'scan;
        }
    }
    match best {
        // ASCII lower-casing keeps byte offsets.
        Some((at, len)) => {
            let rest = folded[at + len..].trim_matches(|c: char| c == ' ' || ".:#".contains(c));
            (&folded[..at], Some(rest))
        }
        None => (folded, None),
    }
}

#[cfg(feature = "ssr")]
impl PhoneNumber {
    /// Reads a number as pasted from a signature or a website, without an
    /// extension (an extension written in it is refused as letters or
    /// characters; use [`PhoneNumber::read`] where one may come along).
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        if let Some(length) = over_the_field_limit(raw) {
            return Err(PhoneError::FieldTooLong(length));
        }
        let folded = fold(raw.trim());
        Self::parse_folded(&folded)
    }

    /// Reads the number field and the extension field of a form (or a
    /// roster cell, with an empty `extension_field`) as people paste
    /// them: `(202) 555-0143 ext. 12`, `202‑555‑0144 x12`, `1-800-555-LAWS`,
    /// no-break spaces, full-width digits. An extension written in the
    /// number moves to the extension; written in both places differently,
    /// it is refused ([`PhoneError::ExtensionConflict`]).
    pub fn read(
        number_field: &str,
        extension_field: &str,
    ) -> Result<(Self, Option<Extension>), PhoneError> {
        if let Some(length) =
            over_the_field_limit(number_field).or(over_the_field_limit(extension_field))
        {
            return Err(PhoneError::FieldTooLong(length));
        }
        let folded = fold(number_field.trim());
        let (main, in_number) = split_extension(&folded);
        let in_number = in_number.map(Extension::parse).transpose()?.flatten();
        let in_field = Extension::parse(&fold(extension_field))?;
        let number = Self::parse_folded(main)?;
        let extension = match (in_number, in_field) {
            (Some(a), Some(b)) if a != b => {
                return Err(PhoneError::ExtensionConflict {
                    in_number: a.0,
                    in_field: b.0,
                });
            }
            (a, b) => a.or(b),
        };
        Ok((number, extension))
    }

    fn parse_folded(folded: &str) -> Result<Self, PhoneError> {
        use phonenumber::country::Id;
        use phonenumber::metadata::DATABASE;
        use phonenumber::{Mode, Type};

        let trimmed = without_label(folded.trim());
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let length = trimmed.chars().count();
        if length > 40 {
            return Err(PhoneError::TooLong(length));
        }
        if let Some(bad) = trimmed
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " .-()+/".contains(*c)))
        {
            return Err(PhoneError::InvalidCharacter(describe_char(bad)));
        }
        // libphonenumber reads letters as a vanity number from three on;
        // fewer are a typo (an `l` for a `1`) better shown than guessed.
        let letters: String = trimmed.chars().filter(char::is_ascii_alphabetic).collect();
        if !letters.is_empty() && letters.len() < 3 {
            return Err(PhoneError::StrayLetters(letters));
        }
        // Letters are keypad digits only beside an area code in digits:
        // a word alone ("unlisted", a roster's "call office") would
        // otherwise be dialled as a number.
        if !letters.is_empty() && trimmed.chars().filter(char::is_ascii_digit).count() < 3 {
            return Err(PhoneError::Words(trimmed.to_owned()));
        }
        let dialled: String = trimmed
            .chars()
            .map(|c| keypad_digit(c).unwrap_or(c))
            .collect();
        let digits: String = dialled.chars().filter(char::is_ascii_digit).collect();
        // Seven digits, or the country's 1 and seven: no area code.
        let local = match digits.len() {
            7 => Some(digits.as_str()),
            8 if digits.starts_with('1') => Some(&digits[1..]),
            _ => None,
        };
        if let Some(local) = local
            && !trimmed.contains('+')
        {
            return Err(PhoneError::NoAreaCode(format!(
                "{}-{}",
                &local[..3],
                &local[3..]
            )));
        }
        let number = phonenumber::parse(Some(Id::US), &dialled)
            .map_err(|_| PhoneError::Unreadable(dialled.clone()))?;
        let read = number.format().mode(Mode::E164).to_string();
        if number.code().value() != 1 {
            return Err(PhoneError::NotNorthAmerican(read));
        }
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::NotAssigned(read));
        }
        // The region comes from libphonenumber's metadata, not from a list
        // of area codes kept here.
        match number.country().id() {
            Some(Id::US | Id::CA | Id::PR | Id::VI | Id::GU | Id::MP | Id::AS) => {}
            other => {
                return Err(PhoneError::OtherCountry {
                    read,
                    country: other.map_or("another country", country_name),
                });
            }
        }
        if number.number_type(&DATABASE) == Type::PremiumRate {
            return Err(PhoneError::PremiumRate(read));
        }
        Ok(Self(read))
    }

    /// Whether the number is toll-free (800, 833, 844…): accepted, but
    /// many correctional facilities' phone systems cannot place calls to
    /// toll-free numbers, so the attorney is warned.
    pub fn is_toll_free(&self) -> bool {
        use phonenumber::metadata::DATABASE;
        phonenumber::parse(None, &self.0)
            .is_ok_and(|number| number.number_type(&DATABASE) == phonenumber::Type::TollFree)
    }

    /// A stored E.164 number as people in North America write it,
    /// "(202) 456-1111", with one parse; the E.164 text if it does not parse.
    pub fn national_display(e164: &str) -> String {
        phonenumber::parse(None, e164)
            .map(|number| {
                number
                    .format()
                    .mode(phonenumber::Mode::National)
                    .to_string()
            })
            .unwrap_or_else(|_| e164.to_owned())
    }
}

/// The English name of a +1 country outside the US, its territories and
/// Canada, for the refusal (names from ISO 3166-1).
#[cfg(feature = "ssr")]
fn country_name(id: phonenumber::country::Id) -> &'static str {
    use phonenumber::country::Id;
    match id {
        Id::AG => "Antigua and Barbuda",
        Id::AI => "Anguilla",
        Id::BB => "Barbados",
        Id::BM => "Bermuda",
        Id::BS => "the Bahamas",
        Id::DM => "Dominica",
        Id::DO => "the Dominican Republic",
        Id::GD => "Grenada",
        Id::JM => "Jamaica",
        Id::KN => "Saint Kitts and Nevis",
        Id::KY => "the Cayman Islands",
        Id::LC => "Saint Lucia",
        Id::MS => "Montserrat",
        Id::SX => "Sint Maarten",
        Id::TC => "the Turks and Caicos Islands",
        Id::TT => "Trinidad and Tobago",
        Id::VC => "Saint Vincent and the Grenadines",
        Id::VG => "the British Virgin Islands",
        _ => "another country",
    }
}

impl PhoneNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

closed_set!(
    /// What kind of line a number is (`registrations.label`).
    pub NumberLabel {
        Office = "office",
        Mobile = "mobile",
        Switchboard = "switchboard",
        Other = "other",
    }
);

closed_set!(
    /// How a one-time code reaches the phone (`number_codes.channel`):
    /// office landlines cannot receive SMS.
    pub Channel {
        Sms = "sms",
        Voice = "voice",
    }
);

closed_set!(
    /// What became of a code sent through Twilio
    /// (`number_codes.delivery_status`), from its status callbacks
    /// (<https://www.twilio.com/docs/messaging/guides/track-outbound-message-status>,
    /// <https://www.twilio.com/docs/voice/api/call-resource#statuscallback>).
    pub DeliveryStatus {
        /// Accepted by Twilio; no final word yet.
        Sent = "sent",
        /// A text reached the phone.
        Delivered = "delivered",
        /// A call was answered, a key pressed and the code read.
        Heard = "heard",
        /// A call was answered but no key pressed: the code was not read.
        NotHeard = "not_heard",
        /// A machine answered the call; it heard nothing.
        Voicemail = "voicemail",
        /// The carrier did not deliver the text (`ErrorCode` says why).
        Undelivered = "undelivered",
        /// The text or call failed before reaching the carrier.
        Failed = "failed",
        NoAnswer = "no_answer",
        Busy = "busy",
        Canceled = "canceled",
    }
);

impl DeliveryStatus {
    /// Whether this is the last word on the delivery.
    pub fn is_final(self) -> bool {
        self != DeliveryStatus::Sent
    }

    /// Whether nothing reached the phone, so the send it used is given
    /// back to the hourly and daily limits: a text the carrier did not
    /// deliver, a call or text that failed or was canceled before it rang.
    /// A call that rang (no answer, busy, voicemail, answered without a key)
    /// keeps counting: giving those back would let anyone ring a number
    /// without limit by asking for calls nobody takes.
    pub fn gives_back(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Undelivered | DeliveryStatus::Failed | DeliveryStatus::Canceled
        )
    }
}

/// An extension: digits only, at most 10.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension(String);

impl Extension {
    /// Digits only, at most 10; empty is no extension.
    pub fn parse(raw: &str) -> Result<Option<Self>, PhoneError> {
        if let Some(length) = over_the_field_limit(raw) {
            return Err(PhoneError::FieldTooLong(length));
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.len() > 10 || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            // Shown back as read, but an invisible character by its name.
            let shown: String = trimmed
                .chars()
                .take(20)
                .map(|c| match invisible_name(c) {
                    Some(_) => format!("[{}]", describe_char(c)),
                    None => c.to_string(),
                })
                .collect();
            return Err(PhoneError::InvalidExtension(shown));
        }
        Ok(Some(Self(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests;
