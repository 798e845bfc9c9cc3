//! The site admins' alert about facilities whose lists may not match the
//! registry (issue 24, finding 7): one email a period names every facility
//! whose incident opened since the last, instead of one email per
//! facility.

use super::{Email, email};

/// Facilities named in one alert at most; the rest are counted.
pub const NAMED_AT_MOST: usize = 100;

/// One facility in an alert, and why it is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityIncident {
    pub facility: String,
    /// USPS code.
    pub state: String,
    pub provider: String,
    /// A sentence without its capital, e.g. "it has not reconciled with a
    /// match for more than 24 hours".
    pub reason: String,
}

/// To site admins: the `incidents` opened since the last alert (at most
/// [`NAMED_AT_MOST`] named, the others counted), that no other alert comes
/// within `period_minutes`, and the page that shows them (`link`).
pub fn facility_incidents(
    incidents: &[FacilityIncident],
    period_minutes: i64,
    link: &str,
) -> Email {
    let count = incidents.len();
    let (subject, opening) = if count == 1 {
        (
            "A facility's attorney list needs attention".to_owned(),
            "A facility's list of attorney numbers may not match the registry, so \
             privileged calls there may be recorded:"
                .to_owned(),
        )
    } else {
        (
            format!("{count} facilities' attorney lists need attention"),
            format!(
                "{count} facilities' lists of attorney numbers may not match the \
                 registry, so privileged calls there may be recorded:"
            ),
        )
    };
    let mut listing = String::new();
    for incident in incidents.iter().take(NAMED_AT_MOST) {
        let place = format!(
            "{} ({}), {}",
            incident.facility, incident.state, incident.provider
        );
        listing.push_str(&wrapped(&place, "- ", "  "));
        listing.push_str(&wrapped(&format!("Why: {}.", incident.reason), "  ", "  "));
        listing.push('\n');
    }
    if count > NAMED_AT_MOST {
        listing.push_str(&format!(
            "And {} more: see the page below.\n\n",
            count - NAMED_AT_MOST
        ));
    }
    email(
        &subject,
        format!(
            "Hello,\n\n{}\n{listing}{}\n{link}\n",
            wrapped(&opening, "", ""),
            wrapped(
                &format!(
                    "You get at most one of these emails every {period_minutes} minutes. \
                     A facility is named again only once it has matched and then failed \
                     anew."
                ),
                "",
                ""
            ),
        ),
    )
}

/// `text` broken into lines under 76 characters at spaces, the first
/// starting with `first`, the others with `rest`; each line ends in `\n`.
/// A word longer than a line stays whole.
fn wrapped(text: &str, first: &str, rest: &str) -> String {
    const WIDTH: usize = 75;
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(facility: &str) -> FacilityIncident {
        FacilityIncident {
            facility: facility.to_owned(),
            state: "WA".to_owned(),
            provider: "Acme Phones".to_owned(),
            reason: "its reconciliation at seq 12 claimed 1041 numbers; the registry \
                     held 1042"
                .to_owned(),
        }
    }

    #[test]
    fn one_email_names_every_facility_and_says_how_often_it_comes() {
        let message = facility_incidents(
            &[
                incident("King County Correctional Facility"),
                incident("Yakima County Jail"),
            ],
            15,
            "https://r.example/admin/facilities",
        );
        assert_eq!(
            message.subject,
            "2 facilities' attorney lists need attention"
        );
        assert!(
            message
                .body
                .contains("2 facilities' lists of attorney numbers")
        );
        assert!(
            message
                .body
                .contains("- King County Correctional Facility (WA), Acme Phones\n")
        );
        assert!(
            message
                .body
                .contains("- Yakima County Jail (WA), Acme Phones\n")
        );
        assert!(message.body.contains("Why: its reconciliation at seq 12"));
        assert!(message.body.contains("every 15 minutes"));
        assert!(
            message
                .body
                .ends_with("https://r.example/admin/facilities\n")
        );
        let single = facility_incidents(&[incident("Yakima County Jail")], 15, "l");
        assert_eq!(single.subject, "A facility's attorney list needs attention");
    }

    #[test]
    fn a_long_batch_names_the_first_and_counts_the_rest_in_short_lines() {
        let long_name = "The Very Long Name of a Regional Detention and Correctional \
                         Facility Serving Several Counties at Once";
        let many: Vec<_> = (0..NAMED_AT_MOST + 7)
            .map(|i| incident(&format!("{long_name} {i}")))
            .collect();
        let message = facility_incidents(&many, 15, "https://r.example/admin/facilities");
        assert!(message.body.contains("And 7 more"));
        let named = message.body.lines().filter(|l| l.starts_with("- ")).count();
        assert_eq!(named, NAMED_AT_MOST);
        for line in message.body.lines().filter(|l| !l.starts_with("https://")) {
            assert!(line.chars().count() < 76, "{line:?}");
        }
    }
}
