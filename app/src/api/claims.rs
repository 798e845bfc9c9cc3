//! The claim link sent to a roster's email of record: what it stands for,
//! the answer ("this is me" or "this was not me"), and the attorney asking
//! for it again.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The claim a link stands for, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimView {
    pub full_name: String,
    /// "CA 123456".
    pub bar: String,
    pub account_email: String,
    /// For a notice of a number going live: the number, as people write
    /// it. Its link only blocks ("this was not me").
    pub number: Option<String>,
}

#[server(endpoint = "claim_details")]
pub async fn claim_details(token: String) -> Result<Option<ClaimView>, AppError> {
    let state = crate::ssr::auth::state()?;
    let claim =
        crate::ssr::standing::claims::claim_of_link(state.database.pool(), token.trim()).await?;
    Ok(claim.map(|claim| ClaimView {
        full_name: claim.full_name,
        bar: format!("{} {}", claim.jurisdiction, claim.bar_number),
        account_email: claim.account_email,
        number: claim.number,
    }))
}

/// Records the answer of the email of record; `answer` is `mine` or
/// `not-mine` (a notice's link takes only `not-mine`). Redirects to
/// `/claim/answered?answer=…`.
#[server(endpoint = "answer_claim")]
pub async fn answer_claim(token: String, answer: String) -> Result<(), AppError> {
    use crate::ssr::standing::claims::{self, Answer};
    let answer = match answer.as_str() {
        "mine" => Answer::Mine,
        "not-mine" => Answer::NotMine,
        _ => {
            return Err(AppError::Validation(
                "Choose one of the two answers.".into(),
            ));
        }
    };
    let state = crate::ssr::auth::state()?;
    claims::answer(
        &state.database,
        &state.mailer,
        &state.base_url,
        token.trim(),
        answer,
    )
    .await?;
    let shown = match answer {
        Answer::Mine => "mine",
        Answer::NotMine => "not-mine",
    };
    leptos_axum::redirect(&format!("/claim/answered?answer={shown}"));
    Ok(())
}

/// The signed-in attorney asks for the claim link to be sent (again) to
/// their bar's email of record. Redirects to `/account?claim_link=sent`.
#[server(endpoint = "request_claim_link")]
pub async fn request_claim_link() -> Result<(), AppError> {
    use crate::ssr::accounts::permission::Permission;
    use crate::ssr::{auth, infra::session};
    let session = session::current().await?;
    let account = auth::require(&session, Permission::ManageOwnNumbers).await?;
    let state = auth::state()?;
    crate::ssr::standing::claims::request_link(
        &state.database,
        &state.mailer,
        &state.base_url,
        account.id,
    )
    .await?;
    leptos_axum::redirect("/account?claim_link=sent");
    Ok(())
}
