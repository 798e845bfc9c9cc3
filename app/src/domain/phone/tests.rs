//! The reader of pasted numbers, tried on what people paste and on
//! hostile input.

use super::*;

#[test]
fn common_formats_become_e164() {
    for raw in [
        "(202) 456-1111",
        "202-456-1111",
        "202.456.1111",
        "+1 202 456 1111",
        "1 (202) 456-1111",
        "2024561111",
    ] {
        assert_eq!(
            PhoneNumber::parse(raw).map(|n| n.0),
            Ok("+12024561111".into()),
            "{raw}"
        );
    }
    // Canada and a US territory are North American too.
    assert_eq!(
        PhoneNumber::parse("416-363-1212").map(|n| n.0),
        Ok("+14163631212".into())
    );
    assert!(PhoneNumber::parse("+1 787 721 7000").is_ok(), "Puerto Rico");
}

#[test]
fn refusals_say_why() {
    assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Empty));
    assert_eq!(
        PhoneNumber::parse("<script>"),
        Err(PhoneError::InvalidCharacter("\"<\" (U+003C)".into()))
    );
    assert_eq!(
        PhoneNumber::parse("+44 20 7946 0958"),
        Err(PhoneError::NotNorthAmerican("+442079460958".into()))
    );
    assert_eq!(
        PhoneNumber::parse("202-456-111"),
        Err(PhoneError::NotAssigned("+1202456111".into()))
    );
    assert!(matches!(
        PhoneNumber::parse("202-456-11111"),
        Err(PhoneError::NotAssigned(_))
    ));
    assert!(matches!(
        PhoneNumber::parse("(123) 456-7890"),
        Err(PhoneError::NotAssigned(_))
    ));
    assert_eq!(
        PhoneNumber::parse("1-900-976-1234"),
        Err(PhoneError::PremiumRate("+19009761234".into()))
    );
    assert_eq!(
        PhoneNumber::parse(&"1".repeat(41)),
        Err(PhoneError::TooLong(41))
    );
    assert_eq!(
        PhoneNumber::parse("202-456-111l"),
        Err(PhoneError::StrayLetters("l".into()))
    );
    for local in [
        "555-0154",
        "555 0154",
        "5550154",
        "1 555-0154",
        "1-555-0154",
    ] {
        assert_eq!(
            PhoneNumber::parse(local),
            Err(PhoneError::NoAreaCode("555-0154".into())),
            "{local}"
        );
    }
    assert_eq!(
        PhoneError::NoAreaCode("555-0154".into()).to_string(),
        "We read the 7-digit local number 555-0154: add its area code, like (202) 555-0154."
    );
    // Ten letters would dial as a valid-looking number.
    for words in ["unlisted", "CALL OFFICE", "SEE WEBSITE", "Callreception"] {
        assert_eq!(
            PhoneNumber::parse(words),
            Err(PhoneError::Words(words.into())),
            "{words}"
        );
    }
    assert_eq!(
        PhoneNumber::parse("202-LAW-FIRM").map(|number| number.as_str().to_owned()),
        Ok("+12025293476".into()),
        "a vanity number keeps working"
    );
}

#[test]
fn invisible_characters_are_named_never_shown() {
    let error = PhoneNumber::parse("202\u{200B}456-1111").expect_err("refused");
    assert_eq!(
        error,
        PhoneError::InvalidCharacter("U+200B zero-width space (an invisible character)".into())
    );
    assert!(!error.to_string().contains('\u{200B}'));
    assert!(
        PhoneNumber::parse("202-456-1111\u{FEFF}")
            .expect_err("refused")
            .to_string()
            .contains("U+FEFF")
    );
}

#[test]
fn pasted_forms_are_read_as_libphonenumber_would() {
    for (raw, e164, ext) in [
        ("(202) 555-0143 ext. 12", "+12025550143", Some("12")),
        ("202-555-0144 x12", "+12025550144", Some("12")),
        ("202-555-0144x12", "+12025550144", Some("12")),
        ("(415) 555-0120 ext: 12", "+14155550120", Some("12")),
        ("415-555-0121 #204", "+14155550121", Some("204")),
        ("(415) 555-0122 extension 7", "+14155550122", Some("7")),
        ("415-555-0123, 3", "+14155550123", Some("3")),
        ("415 555 0125 X7", "+14155550125", Some("7")),
        ("202-555-0144 ext.", "+12025550144", None),
        // Non-breaking hyphen, en and em dash, minus sign.
        ("202\u{2011}555\u{2011}0145", "+12025550145", None),
        ("202\u{2013}555\u{2014}0145", "+12025550145", None),
        ("202\u{2212}555\u{2010}0145", "+12025550145", None),
        // No-break, narrow no-break, figure and ideographic spaces.
        ("202\u{00A0}555\u{202F}0146", "+12025550146", None),
        ("\u{3000}202\u{2007}555 0146\u{00A0}", "+12025550146", None),
        ("202\t555\u{2028}0146", "+12025550146", None),
        // Full-width digits and punctuation.
        (
            "\u{FF08}\u{FF12}\u{FF10}\u{FF12}\u{FF09}\u{FF15}\u{FF15}\u{FF15}\u{FF0D}\u{FF10}\u{FF11}\u{FF14}\u{FF17}",
            "+12025550147",
            None,
        ),
        // Vanity letters become the keypad's digits.
        ("1-800-555-LAWS", "+18005555297", None),
        ("202-CALL-NOW", "+12022255669", None),
        ("1-800-TAXI-CAB x 9", "+18008294222", Some("9")),
        ("1 (800) NEXT-LAW", "+18006398529", None),
        // A label before the number, as signatures write it.
        ("Tel: (202) 555-0148", "+12025550148", None),
        ("Office 202.555.0148 ext. 3", "+12025550148", Some("3")),
        ("T. +1 202 555 0148", "+12025550148", None),
    ] {
        let read = PhoneNumber::read(raw, "").map(|(n, e)| (n.0, e.map(|e| e.0)));
        assert_eq!(read, Ok((e164.to_owned(), ext.map(str::to_owned))), "{raw}");
    }
}

#[test]
fn an_extension_is_taken_from_either_field_but_not_two_different_ones() {
    let read = |number, field| PhoneNumber::read(number, field).map(|(_, e)| e.map(|e| e.0));
    assert_eq!(read("202-555-0143", " 12 "), Ok(Some("12".into())));
    assert_eq!(read("202-555-0143 ext 12", "12"), Ok(Some("12".into())));
    assert_eq!(read("202-555-0143 ext 12", ""), Ok(Some("12".into())));
    assert_eq!(
        read("202-555-0143 ext 12", "13"),
        Err(PhoneError::ExtensionConflict {
            in_number: "12".into(),
            in_field: "13".into()
        })
    );
    assert_eq!(
        read("202-555-0143 ext 12a", ""),
        Err(PhoneError::InvalidExtension("12a".into()))
    );
}

#[test]
fn only_the_us_its_territories_and_canada() {
    for (raw, region) in [
        ("+1 787 721 7000", "Puerto Rico"),
        ("+1 340 774 1234", "US Virgin Islands"),
        ("+1 671 475 1234", "Guam"),
        ("+1 670 234 5678", "Northern Mariana Islands"),
        ("+1 684 633 1234", "American Samoa"),
        ("+1 416 363 1212", "Canada"),
    ] {
        assert!(PhoneNumber::parse(raw).is_ok(), "{region}");
    }
    for (raw, country) in [
        ("+1 876 927 1234", "Jamaica"),
        ("+1 809 221 1234", "the Dominican Republic"),
        ("+1 242 322 1234", "the Bahamas"),
    ] {
        let error = PhoneNumber::parse(raw).expect_err(country);
        assert!(
            matches!(&error, PhoneError::OtherCountry { country: c, .. } if *c == country),
            "{raw}: {error:?}"
        );
        assert!(error.to_string().contains("toll-fraud"), "{error}");
    }
}

#[test]
fn toll_free_numbers_are_known() {
    assert!(
        PhoneNumber::parse("1-800-555-LAWS")
            .expect("read")
            .is_toll_free()
    );
    assert!(
        !PhoneNumber::parse("202-456-1111")
            .expect("read")
            .is_toll_free()
    );
}

#[test]
fn megabytes_in_a_phone_field_are_refused_before_they_are_read() {
    let four_mib = 4 * 1024 * 1024;
    for filler in [",", "x", "#", "ext", "\u{00A0}", "9"] {
        let hostile = format!("202 555 0143{}", filler.repeat(four_mib / filler.len()));
        let length = hostile.chars().count();
        assert_eq!(
            PhoneNumber::read(&hostile, ""),
            Err(PhoneError::FieldTooLong(length)),
            "number field of {filler:?}"
        );
        assert_eq!(
            PhoneNumber::read("202 555 0143", &hostile),
            Err(PhoneError::FieldTooLong(length)),
            "extension field of {filler:?}"
        );
        assert_eq!(
            PhoneNumber::parse(&hostile),
            Err(PhoneError::FieldTooLong(length))
        );
        assert_eq!(
            Extension::parse(&hostile),
            Err(PhoneError::FieldTooLong(length))
        );
    }
    // At the limit a field is still read (and refused or taken on its
    // merits), one character over it is not.
    let at_limit = format!("(202) 555-0143{}", " ".repeat(MAX_FIELD_CHARS - 14));
    assert!(PhoneNumber::read(&at_limit, "").is_ok());
    let over = format!("{at_limit} ");
    assert_eq!(
        PhoneNumber::read(&over, ""),
        Err(PhoneError::FieldTooLong(MAX_FIELD_CHARS + 1))
    );
}

/// The extension split as first written (a rescan of the rest at
/// every marker: quadratic), kept to check the linear one against.
fn reference_split(folded: &str) -> (&str, Option<&str>) {
    let lower = folded.to_ascii_lowercase();
    let trim = |rest: &'_ str| -> String {
        rest.trim_matches(|c: char| c == ' ' || ".:#".contains(c))
            .to_owned()
    };
    let mut best: Option<(usize, usize)> = None;
    for (at, _) in lower.char_indices() {
        if best.is_some() {
            break;
        }
        let before_is_letter = lower[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphabetic());
        for marker in EXTENSION_MARKERS {
            if !lower[at..].starts_with(marker) {
                continue;
            }
            let word = marker.starts_with(|c: char| c.is_ascii_alphabetic());
            let rest = trim(&lower[at + marker.len()..]);
            let follows = rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit());
            if (word && before_is_letter) || !follows || at == 0 {
                continue;
            }
            best = Some((at, marker.len()));
            break;
        }
    }
    match best {
        Some((at, len)) => {
            let rest = folded[at + len..].trim_matches(|c: char| c == ' ' || ".:#".contains(c));
            (&folded[..at], Some(rest))
        }
        None => (folded, None),
    }
}

#[test]
fn the_linear_extension_split_agrees_with_the_first_one() {
    // Every string of up to five characters over the characters that
    // matter to the split, and a few written as people write them.
    let alphabet = ['1', 'x', ',', '#', ' ', 'e', 't', '.', 'n', 'A'];
    let mut inputs = vec![
        "202-555-0143 ,,,,,,,, 12".to_owned(),
        "1-800-TAXI-CAB x 5".to_owned(),
        "(202) 555-0143 extension 12".to_owned(),
        "202 555 0143 ext.: 7".to_owned(),
        "202-555-0143 x".to_owned(),
    ];
    let mut current = vec![String::new()];
    for _ in 0..5 {
        let mut next = Vec::new();
        for prefix in &current {
            for c in alphabet {
                next.push(format!("{prefix}{c}"));
            }
        }
        inputs.extend(next.iter().cloned());
        current = next;
    }
    for input in &inputs {
        assert_eq!(split_extension(input), reference_split(input), "{input:?}");
    }
}

#[test]
fn extensions_are_short_digit_strings() {
    assert_eq!(Extension::parse(" "), Ok(None));
    assert_eq!(
        Extension::parse("1234").map(|e| e.map(|e| e.0)),
        Ok(Some("1234".into()))
    );
    assert!(matches!(
        Extension::parse("12345678901"),
        Err(PhoneError::InvalidExtension(_))
    ));
    assert!(matches!(
        Extension::parse("12a"),
        Err(PhoneError::InvalidExtension(_))
    ));
    let error = Extension::parse("12\u{200B}").expect_err("refused");
    assert_eq!(
        error,
        PhoneError::InvalidExtension("12[U+200B zero-width space (an invisible character)]".into())
    );
    assert!(!error.to_string().contains('\u{200B}'));
}
