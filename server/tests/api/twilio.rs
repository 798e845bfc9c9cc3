//! The Twilio code sender against a fake of Twilio's API on loopback that
//! checks each request the way Twilio documents it (basic auth with the
//! account SID and auth token; form fields To, From, StatusCallback, and
//! Body or Url) and answers the way it does, error bodies included; and
//! that calls back the way Twilio does: status callbacks, a call fetching
//! its script (with `AnsweredBy` when machine detection was asked for) and
//! following its `<Gather>`, each request signed with
//! `X-Twilio-Signature`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::journeys::{PASSWORD, log_in, verified_account};
use crate::helpers::journeys::{location, prove_through_the_form};
use crate::helpers::{Engine, TestApp, eventually, form_error, spawn_app_with};

pub(crate) const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "test-auth-token";
pub(crate) const FROM: &str = "+12025550100";
/// The fake refuses this number as Twilio does an unreachable one.
const REFUSED: &str = "+12127365000";
/// Numbers the fake refuses with Twilio's other error codes: the code and
/// message Twilio documents for each (https://www.twilio.com/docs/api/errors).
const REFUSALS: [(&str, i64, &str); 4] = [
    (
        "+12127365001",
        21614,
        "'To' number is not a valid mobile number",
    ),
    (
        "+12127365002",
        21610,
        "Attempt to send to unsubscribed recipient",
    ),
    (
        "+12127365003",
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    ),
    (
        "+12127365004",
        21216,
        "Account not allowed to call this number",
    ),
];

/// A request the fake accepted: the resource and its form fields.
pub(crate) type Accepted = (String, Vec<(String, String)>);

#[derive(Clone, Default)]
pub(crate) struct Fake {
    requests: Arc<Mutex<Vec<Accepted>>>,
    /// How many of the next requests fail as Twilio does when it is down.
    outage: Arc<AtomicUsize>,
    /// Resources made, for their SIDs.
    made: Arc<AtomicUsize>,
    /// How many of the next requests are never answered, as when the
    /// sending instance dies before Twilio's answer comes back.
    hold: Arc<AtomicUsize>,
    /// Requests taken and left unanswered.
    held: Arc<AtomicUsize>,
}

async fn create(
    State(fake): State<Fake>,
    Path((account, resource)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    let authorised = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(expected.as_str());
    if !authorised || account != SID {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
            ),
        );
    }
    if fake
        .hold
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
    {
        fake.held.fetch_add(1, Ordering::SeqCst);
        return std::future::pending().await;
    }
    if fake
        .outage
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"code": 20503, "message": "Service Unavailable", "more_info": "https://www.twilio.com/docs/errors/20503", "status": 503}),
            ),
        );
    }
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let content = match resource.as_str() {
        "Messages.json" => field("Body"),
        "Calls.json" => field("Url"),
        _ => None,
    };
    let (Some(to), Some(from), Some(_), Some(_)) =
        (field("To"), field("From"), content, field("StatusCallback"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"code": 21604, "message": "A required parameter is missing.", "status": 400}),
            ),
        );
    };
    if to == REFUSED {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"code": 21211, "message": format!("The 'To' number {to} is not a valid phone number."), "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
            ),
        );
    }
    if let Some((_, code, message)) = REFUSALS.iter().find(|(number, ..)| *number == to) {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": 400}),
            ),
        );
    }
    let made = fake.made.fetch_add(1, Ordering::SeqCst);
    let sid = format!(
        "{}{made:032x}",
        if resource == "Calls.json" { "CA" } else { "SM" }
    );
    let mut form = form.clone();
    form.push(("Sid".to_owned(), sid.clone()));
    fake.requests
        .lock()
        .expect("lock")
        .push((resource.clone(), form));
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "account_sid": SID, "to": to, "from": from, "status": "queued"})),
    )
}

pub(crate) async fn start_fake() -> (Fake, String) {
    let fake = Fake::default();
    let router = Router::new()
        .route("/2010-04-01/Accounts/{account}/{resource}", post(create))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (fake, format!("http://{address}"))
}

/// The portal sending codes through the fake; `database_url` to start it
/// on an existing database (a restart), else on a new one.
async fn with_twilio(
    engine: Engine,
    base: &str,
    token: &str,
    database_url: Option<&str>,
) -> TestApp {
    let mut variables = vec![
        ("TWILIO_ACCOUNT_SID", SID),
        ("TWILIO_AUTH_TOKEN", token),
        ("TWILIO_FROM_NUMBER", FROM),
        ("TWILIO_API_BASE", base),
    ];
    variables.extend(database_url.map(|url| ("DATABASE_URL", url)));
    spawn_app_with(engine, &variables).await
}

/// The portal sending codes through the fake, with Jane signed in.
async fn signed_in_with_twilio(engine: Engine, base: &str, token: &str) -> TestApp {
    let app = with_twilio(engine, base, token, None).await;
    verified_account(&app, "jane@example.org").await;
    log_in(&app, "jane@example.org", PASSWORD).await;
    app
}

impl Fake {
    /// The next `requests` fail with a 503.
    pub(crate) fn go_down_for(&self, requests: usize) {
        self.outage.store(requests, Ordering::SeqCst);
    }

    /// The next `requests` are taken and never answered.
    pub(crate) fn hold_next(&self, requests: usize) {
        self.hold.store(requests, Ordering::SeqCst);
    }

    /// How many requests were taken and left unanswered.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    pub(crate) fn accepted(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }

    /// The last request the fake accepted.
    pub(crate) fn last(&self) -> Accepted {
        self.requests
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a request")
    }
}

async fn add_and_send(app: &TestApp, number: &str, channel: &str) -> (String, reqwest::Response) {
    app.post_form_from(
        "/numbers",
        "/api/add_number",
        &[("number", number), ("label", ""), ("extension", "")],
    )
    .await;
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM registrations")
        .fetch_one(app.database.pool())
        .await
        .expect("id");
    let id = id.to_string();
    let response = app
        .post_form_from(
            "/numbers",
            "/api/send_number_code",
            &[("registration", &id), ("channel", channel)],
        )
        .await;
    (id, response)
}

pub(crate) fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

db_test!(
    async fn codes_go_out_through_twilio_by_sms_and_voice(engine: Engine) {
        let (fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;

        let (id, sent) = add_and_send(&app, "(202) 456-1111", "sms").await;
        assert_eq!(sent.headers()["location"], format!("/numbers?sent={id}"));
        let (resource, form) = fake.last();
        assert_eq!(resource, "Messages.json");
        assert_eq!(field(&form, "To"), "+12024561111");
        assert_eq!(field(&form, "From"), FROM);
        let code: String = field(&form, "Body")
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect();
        prove_through_the_form(&app, &id, &code).await;

        let (_, called) = add_and_send(&app, "416-363-1212", "voice").await;
        assert!(form_error(&called).is_none());
        let (resource, form) = fake.last();
        assert_eq!(resource, "Calls.json");
        assert!(
            field(&form, "Url").starts_with(&app.url("/twilio/voice/")),
            "the call fetches its script from the portal: {form:?}"
        );
        assert_eq!(field(&form, "Twiml"), "", "the code is not in the request");
    }
);

/// Twilio calling back: a form POST to `url`, signed with `token` as
/// Twilio signs (checked against Twilio's documented example in
/// `infra::delivery`'s tests).
async fn callback(url: &str, params: &[(&str, &str)], token: &str) -> reqwest::Response {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let signature = app::ssr::infra::delivery::twilio_signature(token, url, &params);
    reqwest::Client::new()
        .post(url)
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .expect("callback sent")
}

/// How a call ends up, as the fake plays it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pickup {
    /// A person answers and presses a key when asked.
    PressesKey,
    /// A person answers and presses nothing.
    PressesNothing,
    /// Machine detection says voicemail.
    Voicemail,
}

/// Text in a TwiML document between `<Say>` tags, joined.
fn said_in(twiml: &str) -> String {
    twiml
        .split("<Say>")
        .skip(1)
        .filter_map(|part| part.split("</Say>").next())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `action` of a TwiML document's `<Gather>`, unescaped.
fn gather_action(twiml: &str) -> Option<String> {
    let start = twiml.find("<Gather")?;
    let action = twiml[start..]
        .split("action=\"")
        .nth(1)?
        .split('"')
        .next()?;
    Some(action.replace("&amp;", "&"))
}

impl Fake {
    /// Twilio reporting on the last message: `sent`, then `status` (with
    /// `error`, Twilio's ErrorCode), each to its StatusCallback.
    async fn report_message(&self, status: &str, error: Option<&str>) -> reqwest::Response {
        let (resource, form) = self.last();
        assert_eq!(resource, "Messages.json");
        let url = field(&form, "StatusCallback");
        let (sid, to) = (field(&form, "Sid"), field(&form, "To"));
        let base = [
            ("AccountSid", SID),
            ("ApiVersion", "2010-04-01"),
            ("From", FROM),
            ("To", to.as_str()),
            ("MessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
        ];
        let mut sent = base.to_vec();
        sent.push(("MessageStatus", "sent"));
        assert_eq!(callback(&url, &sent, TOKEN).await.status(), 204);
        let mut last = base.to_vec();
        last.push(("MessageStatus", status));
        if let Some(error) = error {
            last.push(("ErrorCode", error));
        }
        callback(&url, &last, TOKEN).await
    }

    /// Twilio placing the last call: it fetches the script when answered
    /// (with `AnsweredBy` if machine detection was asked for), follows a
    /// `<Gather>` when a key is pressed, then reports `completed`. Returns
    /// what the call said, in order.
    async fn place_call(&self, pickup: Pickup) -> Vec<String> {
        let (resource, form) = self.last();
        assert_eq!(resource, "Calls.json");
        let (sid, to) = (field(&form, "Sid"), field(&form, "To"));
        let base = [
            ("AccountSid", SID),
            ("ApiVersion", "2010-04-01"),
            ("Direction", "outbound-api"),
            ("From", FROM),
            ("To", to.as_str()),
            ("CallSid", sid.as_str()),
        ];
        let detection = field(&form, "MachineDetection") == "Enable";
        let answered_by = match pickup {
            Pickup::Voicemail => "machine_start",
            _ => "human",
        };
        let mut answered = base.to_vec();
        answered.push(("CallStatus", "in-progress"));
        if detection {
            answered.push(("AnsweredBy", answered_by));
        }
        let mut heard = Vec::new();
        let mut script = callback(&field(&form, "Url"), &answered, TOKEN).await;
        for _ in 0..3 {
            assert_eq!(script.status(), 200);
            let twiml = script.text().await.expect("TwiML");
            heard.push(said_in(&twiml));
            let Some(action) = gather_action(&twiml).filter(|_| pickup == Pickup::PressesKey)
            else {
                break;
            };
            if heard.len() == 3 {
                break; // the code was read, then repeated once
            }
            let mut pressed = answered.clone();
            pressed.push(("Digits", "1"));
            script = callback(&action, &pressed, TOKEN).await;
        }
        let mut completed = base.to_vec();
        completed.push(("CallStatus", "completed"));
        if detection {
            completed.push(("AnsweredBy", answered_by));
        }
        let reported = callback(&field(&form, "StatusCallback"), &completed, TOKEN).await;
        assert_eq!(reported.status(), 204);
        heard
    }
}

/// The registration's latest code: (delivery status, given back, sealed
/// code held).
async fn delivery_of(app: &TestApp, id: &str) -> (Option<String>, bool, bool) {
    let (status, given_back, sealed): (Option<String>, Option<i64>, Option<String>) =
        sqlx::query_as(
            "SELECT delivery_status, given_back_at, sealed_code FROM number_codes \
             WHERE registration_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(id.parse::<i64>().expect("id"))
        .fetch_one(app.database.pool())
        .await
        .expect("code row");
    (status, given_back.is_some(), sealed.is_some())
}

async fn send_again(app: &TestApp, id: &str, channel: &str) -> reqwest::Response {
    crate::helpers::journeys::let_resend(app).await;
    app.post_form_from(
        "/numbers",
        "/api/send_number_code",
        &[("registration", id), ("channel", channel)],
    )
    .await
}

async fn numbers_page(app: &TestApp) -> String {
    app.get("/numbers").await.text().await.expect("page")
}

/// The registration's latest code was settled as `status`, given back or
/// not, its sealed code forgotten, and the dashboard says `words`.
async fn assert_settled(app: &TestApp, id: &str, status: &str, given_back: bool, words: &str) {
    assert_eq!(
        delivery_of(app, id).await,
        (Some(status.to_owned()), given_back, false)
    );
    let page = numbers_page(app).await;
    assert!(page.contains(words), "{words:?} in {page}");
}

db_test!(
    async fn texts_report_their_delivery_and_a_failed_one_gives_its_send_back(engine: Engine) {
        let (fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;

        let (id, _) = add_and_send(&app, "(202) 456-1111", "sms").await;
        let (_, form) = fake.last();
        assert!(
            field(&form, "StatusCallback").starts_with(&app.url("/twilio/status/")),
            "{form:?}"
        );
        assert_eq!(delivery_of(&app, &id).await.0.as_deref(), Some("sent"));
        assert!(
            numbers_page(&app)
                .await
                .contains("waiting for the phone company to confirm")
        );
        assert_eq!(fake.report_message("delivered", None).await.status(), 204);
        assert_settled(&app, &id, "delivered", false, "Delivered to this phone.").await;

        // An office line by text: the carrier's 30006 says why, in words
        // the attorney can act on, and the send is given back.
        let (office, _) = add_and_send(&app, "416-363-1212", "sms").await;
        let reported = fake.report_message("undelivered", Some("30006")).await;
        assert_eq!(reported.status(), 204);
        assert_settled(&app, &office, "undelivered", true, "This line cannot take text messages (a landline?). Ask for a voice call instead. It did not count against your limits.").await;
        // A late `sent` does not undo the final word.
        let (_, form) = fake.last();
        let url = field(&form, "StatusCallback");
        let sid = field(&form, "Sid");
        let late = [("MessageSid", sid.as_str()), ("MessageStatus", "sent")];
        assert_eq!(callback(&url, &late, TOKEN).await.status(), 204);
        assert_eq!(
            delivery_of(&app, &office).await.0.as_deref(),
            Some("undelivered")
        );

        // Five failed sends in the hour are all given back: a sixth goes
        // out (without the give-back, five sends per number an hour).
        for _ in 0..4 {
            assert_eq!(
                location(&send_again(&app, &office, "sms").await),
                format!("/numbers?sent={office}")
            );
            fake.report_message("undelivered", Some("30006")).await;
        }
        let sixth = send_again(&app, &office, "sms").await;
        assert_eq!(
            location(&sixth),
            format!("/numbers?sent={office}"),
            "{:?}",
            form_error(&sixth)
        );

        // Callbacks that Twilio did not sign change nothing.
        let (_, form) = fake.last();
        let url = field(&form, "StatusCallback");
        let sid = field(&form, "Sid");
        let params = [
            ("MessageSid", sid.as_str()),
            ("MessageStatus", "undelivered"),
        ];
        let unsigned = reqwest::Client::new()
            .post(&url)
            .form(&params)
            .send()
            .await
            .expect("sent");
        assert_eq!(unsigned.status(), 403);
        assert_eq!(callback(&url, &params, "another-token").await.status(), 403);
        let elsewhere = url.replace("/twilio/status/", "/twilio/status/x");
        assert_eq!(
            callback(&elsewhere, &params, TOKEN).await.status(),
            404,
            "signed, unknown token"
        );
        assert_eq!(delivery_of(&app, &office).await.0.as_deref(), Some("sent"));
        // Another delivery's SID on this token is not taken.
        let other = [("MessageSid", "SM999"), ("MessageStatus", "undelivered")];
        assert_eq!(callback(&url, &other, TOKEN).await.status(), 404);
        assert_eq!(delivery_of(&app, &office).await.0.as_deref(), Some("sent"));
    }
);

db_test!(
    async fn a_call_dials_the_extension_and_reads_the_code_only_after_a_key_press(engine: Engine) {
        let (fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;
        app.post_form_from(
            "/numbers",
            "/api/add_number",
            &[
                ("number", "(202) 456-1414 ext. 204"),
                ("label", "office"),
                ("extension", ""),
            ],
        )
        .await;
        let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM registrations")
            .fetch_one(app.database.pool())
            .await
            .expect("id");
        let id = id.to_string();
        let called = send_again(&app, &id, "voice").await;
        assert_eq!(location(&called), format!("/numbers?sent={id}"));
        let (_, form) = fake.last();
        assert_eq!(field(&form, "SendDigits"), "wwww204", "{form:?}");
        assert_eq!(
            field(&form, "MachineDetection"),
            "",
            "an auto-attendant would be judged a machine"
        );
        assert!(
            delivery_of(&app, &id).await.2,
            "the code waits sealed for the call"
        );

        let heard = fake.place_call(Pickup::PressesKey).await;
        assert_eq!(heard.len(), 3, "{heard:?}");
        assert!(
            !heard[0].chars().any(|c| c.is_ascii_digit()),
            "nothing before the key: {heard:?}"
        );
        assert!(heard[0].contains("Press any key"), "{heard:?}");
        let code: String = heard[1]
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect();
        assert!(heard[1].contains("Again"), "read twice: {heard:?}");
        let again: String = heard[2]
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect();
        assert_eq!(again, code, "a second key press hears it again: {heard:?}");
        assert_settled(
            &app,
            &id,
            "heard",
            false,
            "The call was answered and the code read out.",
        )
        .await;
        prove_through_the_form(&app, &id, &code).await;
    }
);

db_test!(
    async fn voicemail_and_a_silent_answer_hear_no_code_and_still_count(engine: Engine) {
        let (fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;
        let (id, _) = add_and_send(&app, "(202) 456-1111", "voice").await;
        let (_, form) = fake.last();
        assert_eq!(field(&form, "MachineDetection"), "Enable");
        assert_eq!(field(&form, "SendDigits"), "");
        let voice_url = field(&form, "Url");

        let heard = fake.place_call(Pickup::Voicemail).await;
        assert_eq!(heard, vec![String::new()], "a machine hears nothing");
        assert_settled(
            &app,
            &id,
            "voicemail",
            false,
            "Voicemail answered, so the code was not read out.",
        )
        .await;
        // The script no longer has a code to give, even to a signed request.
        let code_url = format!("{voice_url}/code");
        let late = callback(&code_url, &[("Digits", "1")], TOKEN).await;
        let twiml = late.text().await.expect("TwiML");
        assert!(twiml.contains("can no longer be used"), "{twiml}");

        assert_eq!(
            location(&send_again(&app, &id, "voice").await),
            format!("/numbers?sent={id}")
        );
        let heard = fake.place_call(Pickup::PressesNothing).await;
        assert_eq!(heard.len(), 1);
        assert_settled(&app, &id, "not_heard", false, "no key was pressed").await;

        // Calls that rang keep counting (or anyone could ring a number
        // without limit): three more unanswered, and a sixth in the hour
        // is refused.
        for _ in 0..3 {
            assert_eq!(
                location(&send_again(&app, &id, "voice").await),
                format!("/numbers?sent={id}")
            );
            fake.place_call(Pickup::PressesNothing).await;
        }
        let sixth = send_again(&app, &id, "voice").await;
        let refused = form_error(&sixth).expect("refused");
        assert!(
            refused.contains("Five codes were sent to this number"),
            "{refused}"
        );

        // Unsigned script requests get nothing.
        let (_, form) = fake.last();
        let unsigned = reqwest::Client::new()
            .post(format!("{}/code", field(&form, "Url")))
            .form(&[("Digits", "1")])
            .send()
            .await
            .expect("sent");
        assert_eq!(unsigned.status(), 403);
    }
);

db_test!(
    async fn a_refused_send_is_reported_and_uses_nothing_up(engine: Engine) {
        let (_fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;
        let (id, refused) = add_and_send(&app, REFUSED, "sms").await;
        let error = form_error(&refused).expect("error");
        assert!(
            error.contains("could not send the code") && error.contains("cannot take text"),
            "the attorney is told why: {error}"
        );
        assert_eq!(
            delivery_state(&app, &id).await,
            None,
            "a refusal is not retried: retrying cannot change Twilio's answer"
        );
        let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM number_codes")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!(codes, 0, "no code stored, no quota used");

        // Wrong credentials: Twilio's 401 is reported the same way.
        let (_fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, "wrong-token").await;
        let (_, unauthorised) = add_and_send(&app, "(202) 456-1111", "sms").await;
        assert!(
            form_error(&unauthorised)
                .expect("error")
                .contains("could not send the code")
        );
    }
);

/// The state of the latest code delivery queued for a registration.
async fn delivery_state(app: &TestApp, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT state FROM jobs WHERE dedupe_key = $1 ORDER BY id DESC LIMIT 1")
        .bind(format!("send_code:{id}"))
        .fetch_optional(app.database.pool())
        .await
        .expect("job")
}

/// Brings queued retries forward, as if their backoff had passed.
async fn make_retries_due(app: &TestApp) {
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
        .execute(app.database.pool())
        .await
        .expect("due");
}

db_test!(
    async fn a_send_in_an_outage_is_retried_after_a_restart_and_goes_out(engine: Engine) {
        let (fake, base) = start_fake().await;
        let mut first = signed_in_with_twilio(engine, &base, TOKEN).await;
        fake.go_down_for(1);
        let (id, queued) = add_and_send(&first, "(202) 456-1111", "sms").await;
        assert_eq!(
            queued.headers()["location"],
            format!("/numbers?queued={id}")
        );
        assert_eq!(delivery_state(&first, &id).await.as_deref(), Some("queued"));
        let page = first.get("/numbers").await.text().await.expect("page");
        assert!(
            page.contains("trying again"),
            "the attorney is told: {page}"
        );

        // The server restarts before the retry is due: the retry is kept.
        first.stop().await.expect("stopped");
        let app = with_twilio(engine, &base, TOKEN, Some(&first.test_database.url)).await;
        log_in(&app, "jane@example.org", PASSWORD).await;
        make_retries_due(&app).await;
        eventually("the worker's retry goes out", || async {
            (delivery_state(&app, &id).await.as_deref() == Some("done")).then_some(())
        })
        .await;
        assert_eq!(fake.accepted(), 1);
        let page = app.get("/numbers").await.text().await.expect("page");
        assert!(!page.contains("trying again"), "{page}");
        assert!(page.contains("Code you received"), "{page}");
        let code: String = field(&fake.last().1, "Body")
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect();
        prove_through_the_form(&app, &id, &code).await;
    }
);

db_test!(
    async fn a_send_that_never_goes_out_is_reported_not_dropped(engine: Engine) {
        let (fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;
        fake.go_down_for(usize::MAX);
        let (id, queued) = add_and_send(&app, "(202) 456-1111", "voice").await;
        assert_eq!(
            queued.headers()["location"],
            format!("/numbers?queued={id}")
        );
        // One try left, then due: the worker's try fails too.
        sqlx::query("UPDATE jobs SET attempts = max_attempts - 1")
            .execute(app.database.pool())
            .await
            .expect("age the job");
        make_retries_due(&app).await;
        eventually("the worker gives up", || async {
            (delivery_state(&app, &id).await.as_deref() == Some("failed")).then_some(())
        })
        .await;
        let page = app.get("/numbers").await.text().await.expect("page");
        assert!(
            page.contains("could not send your code after 6 tries"),
            "{page}"
        );
        let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM number_codes")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!(
            codes, 0,
            "no code was stored for a send that never went out"
        );
    }
);

db_test!(
    async fn refusals_tell_the_attorney_what_to_do_and_alert_admins_of_ours(engine: Engine) {
        let (fake, base) = start_fake().await;
        let app = signed_in_with_twilio(engine, &base, TOKEN).await;
        sqlx::query(
            "INSERT INTO users (email, email_key, full_name, jurisdiction, bar_number, \
             password_hash, created_at, role) \
             VALUES ('ops@example.org', 'ops@example.org', 'Ops', 'CA', 'ops', 'x', 0, 'site_admin')",
        )
        .execute(app.database.pool())
        .await
        .expect("site admin");
        let said = |response: reqwest::Response| form_error(&response).expect("an error");

        // 21211 and 21614 by text: a voice call may reach the line.
        for number in [REFUSED, REFUSALS[0].0] {
            let error = said(add_and_send(&app, number, "sms").await.1);
            assert!(error.contains("Ask for a voice call instead"), "{error}");
        }
        // 21610: the phone replied STOP.
        let error = said(add_and_send(&app, REFUSALS[1].0, "sms").await.1);
        assert!(error.contains("Reply START"), "{error}");
        // 21408 and 21216 are ours: the attorney is not blamed, admins are
        // told once per error code however often it happens.
        let error = said(add_and_send(&app, REFUSALS[2].0, "sms").await.1);
        assert!(
            error.contains("problem on our side, not with your number"),
            "{error}"
        );
        let error = said(add_and_send(&app, REFUSALS[3].0, "voice").await.1);
        assert!(error.contains("problem on our side"), "{error}");
        crate::helpers::journeys::let_resend(&app).await;
        let (id, again) = {
            let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM registrations")
                .fetch_one(app.database.pool())
                .await
                .expect("id");
            let again = app
                .post_form_from(
                    "/numbers",
                    "/api/send_number_code",
                    &[
                        ("registration", id.to_string().as_str()),
                        ("channel", "voice"),
                    ],
                )
                .await;
            (id, again)
        };
        assert!(said(again).contains("problem on our side"), "{id}");
        app.run_due_jobs().await;
        let alerts = eventually("the alerts are sent", || async {
            let alerts: Vec<String> = app
                .emails()
                .into_iter()
                .filter(|email| email.contains("refused by the phone service"))
                .collect();
            (alerts.len() >= 2).then_some(alerts)
        })
        .await;
        assert_eq!(alerts.len(), 2, "one per error code: {alerts:?}");
        assert!(alerts.iter().all(|alert| alert.contains("ops@example.org")));
        assert!(alerts.iter().any(|alert| alert.contains("21408")));
        assert!(alerts.iter().any(|alert| alert.contains("21216")));
        assert!(
            alerts.iter().all(|alert| !alert.contains("736500")),
            "no number in an alert"
        );

        // Nothing was stored or used up by any refusal.
        let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM number_codes")
            .fetch_one(app.database.pool())
            .await
            .expect("count");
        assert_eq!((codes, fake.accepted()), (0, 0));
    }
);
