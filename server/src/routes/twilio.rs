//! Twilio's callbacks on a code's delivery: the status of each message and
//! call, and a call's script, fetched when the call is answered and again
//! when a key is pressed.
//!
//! Every request must carry Twilio's `X-Twilio-Signature` over the URL the
//! portal gave Twilio (its public origin and the path) and the form
//! parameters (<https://www.twilio.com/docs/usage/security>); anything else
//! is refused with 403 before its token is looked up. Without Twilio
//! configured (the development outbox) there is nothing to call back, and
//! every request is refused.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use app::ssr::infra::delivery::{Dispatch, VOICE_CODE_ROUTE};
use app::ssr::infra::messages;
use app::ssr::numbers::{self, CallStep, CarrierStatus};
use app::ssr::state::AppState;

type Params = Vec<(String, String)>;

/// A callback Twilio signed: the delivery's token from the path, and the
/// form parameters. Extracting it refuses (403) whatever Twilio did not
/// sign, and everything when codes do not go through Twilio.
pub struct Signed {
    token: String,
    params: Params,
}

impl FromRequest<AppState> for Signed {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let refused = || {
            tracing::warn!("a Twilio callback without a valid signature was refused");
            StatusCode::FORBIDDEN.into_response()
        };
        let Path(token) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let OriginalUri(uri) = OriginalUri::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers: HeaderMap = parts.headers.clone();
        let Form(params) = Form::<Params>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(twilio) = state.code_sender.twilio() else {
            return Err(refused());
        };
        let Some(signature) = headers
            .get("x-twilio-signature")
            .and_then(|value| value.to_str().ok())
        else {
            return Err(refused());
        };
        let path = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), ToString::to_string);
        if !twilio.verify(&format!("{}{path}", state.base_url), &params, signature) {
            return Err(refused());
        }
        Ok(Self { token, params })
    }
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn failed(error: sqlx::Error) -> Response {
    tracing::error!(%error, "a Twilio callback could not be recorded");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `POST /twilio/status/{token}`: a message's `MessageStatus` or a call's
/// `CallStatus`, with `ErrorCode` when it failed. 204 when recorded, 404
/// for a token (or SID) the portal does not know.
pub async fn status(State(state): State<AppState>, Signed { token, params }: Signed) -> Response {
    let word = param(&params, "MessageStatus").or_else(|| param(&params, "CallStatus"));
    let sid = param(&params, "MessageSid").or_else(|| param(&params, "CallSid"));
    let (Some(word), Some(sid)) = (word, sid) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let error = param(&params, "ErrorCode").and_then(|code| code.parse().ok());
    match numbers::record_carrier_status(
        state.database.pool(),
        &token,
        sid,
        CarrierStatus::from_twilio(word),
        error,
    )
    .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => failed(error),
    }
}

/// The URL a key press on this call posts to.
fn code_url(state: &AppState, token: &str) -> String {
    Dispatch {
        base_url: &state.base_url,
        token,
        extension: None,
    }
    .url(VOICE_CODE_ROUTE)
}

fn script(step: CallStep, state: &AppState, token: &str) -> Response {
    twiml(match step {
        CallStep::HangUp => messages::CALL_HANGUP_TWIML.to_owned(),
        CallStep::Greet => messages::call_greeting_twiml(&code_url(state, token)),
        CallStep::ReadCode(code) => messages::call_code_twiml(&code, &code_url(state, token)),
        CallStep::Gone => messages::CALL_CODE_GONE_TWIML.to_owned(),
    })
}

/// `POST /twilio/voice/{token}`: the call was answered (`AnsweredBy` when
/// machine detection ran). A machine gets a hang-up; a person is asked to
/// press a key.
pub async fn voice(State(state): State<AppState>, Signed { token, params }: Signed) -> Response {
    match numbers::call_answered(state.database.pool(), &token, param(&params, "AnsweredBy")).await
    {
        Ok(step) => script(step, &state, &token),
        Err(error) => failed(error),
    }
}

/// `POST /twilio/voice/{token}/code`: a key was pressed (`Digits`): the
/// code, read twice, with a repeat offered.
pub async fn voice_code(State(state): State<AppState>, Signed { token, .. }: Signed) -> Response {
    match numbers::code_for_call(state.database.pool(), &state.keyring, &token).await {
        Ok(step) => script(step, &state, &token),
        Err(error) => failed(error),
    }
}
