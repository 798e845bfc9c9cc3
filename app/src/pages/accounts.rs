use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::api::accounts::{
    AccountSummary, ChangePassword, DisputeSignUp, LogIn, RequestPasswordReset, ResetPassword,
    SignUp, VerifyEmail, VerifySecondFactor, confirmation_details, current_account,
};
use crate::api::claims::RequestClaimLink;
use crate::components::form::{
    CurrentPasswordField, EmailField, FormError, NewPasswordField, provide_form_error_from_url,
};
use crate::components::page_error::PageError;
use crate::domain::bar::JURISDICTIONS;
use crate::domain::{Role, Standing};

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <Title text="Create an account" />
        <h1>"Create an account"</h1>
        <p class="lead">
            "For attorneys admitted in a US state or territory. We match you to your bar's roster "
            "before any number you register counts."
        </p>
        <SignUpForm />
        <p>"Already have an account? " <a href="/login">"Sign in"</a></p>
    }
}

/// The sign-up form. An island, so that with JavaScript a refusal is shown
/// without a reload and the five fields keep what was typed; without it
/// the form posts and the page comes back with the reason.
#[island]
fn SignUpForm() -> impl IntoView {
    provide_form_error_from_url();
    let action = ServerAction::<SignUp>::new();
    view! {
        <FormError result=action.value() />
        <ActionForm action=action attr:class="form" attr:novalidate="novalidate">
            <div class="field">
                <label for="full_name">"Full name"</label>
                <input id="full_name" name="full_name" type="text" autocomplete="name" required maxlength="200" />
            </div>
            <EmailField autocomplete="email" />
            <div class="field">
                <label for="jurisdiction">"Bar jurisdiction"</label>
                <select id="jurisdiction" name="jurisdiction" required>
                    <option value="">"Choose a state or territory"</option>
                    {JURISDICTIONS
                        .iter()
                        .map(|(code, name)| view! { <option value=*code>{*name}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="bar_number">"Bar number"</label>
                <input id="bar_number" name="bar_number" type="text" required maxlength="40" autocomplete="off" />
            </div>
            <NewPasswordField label="Password" />
            <button type="submit" class="button">
                "Create account"
            </button>
        </ActionForm>
    }
}

#[component]
pub fn CheckEmailPage() -> impl IntoView {
    view! {
        <Title text="Check your email" />
        <h1>"Check your email"</h1>
        <p>
            "We sent a message to the address you gave. Open the link in it within 24 hours to "
            "confirm your address, then sign in."
        </p>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let not_me_suggested = move || query.read().get("answer").as_deref() == Some("not-mine");
    let details = Resource::new(token, confirmation_details);
    let action = ServerAction::<VerifyEmail>::new();
    let dispute = ServerAction::<DisputeSignUp>::new();

    // Confirming takes a click: mail scanners that open links must not
    // use the token up. When confirming would prove a claim to a bar
    // number, it takes the account's password too: a bare click by
    // whoever reads the bar's mailbox verifies no one (issue 24).
    view! {
        <Title text="Confirm your email address" />
        <h1>"Confirm your email address"</h1>
        <FormError result=action.value() />
        <FormError result=dispute.value() />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                details
                    .get()
                    .map(|found| match found {
                        Ok(Some(claim)) if claim.proves_claim => {
                            let confirm = view! {
                                <ActionForm action=action attr:class="form">
                                    <input type="hidden" name="token" value=token />
                                    <div class="field">
                                        <label for="password">"The account's password"</label>
                                        <input
                                            id="password"
                                            name="password"
                                            type="password"
                                            autocomplete="current-password"
                                            required
                                            maxlength="128"
                                        />
                                    </div>
                                    <button type="submit" class="button">
                                        "Confirm my email address"
                                    </button>
                                </ActionForm>
                            };
                            let not_me = view! {
                                <ActionForm action=dispute attr:class="form">
                                    <input type="hidden" name="token" value=token />
                                    <button
                                        type="submit"
                                        class=if not_me_suggested() { "button" } else { "button-secondary" }
                                    >
                                        "This was not me: block the claim"
                                    </button>
                                </ActionForm>
                            };
                            view! {
                                <p class="lead">
                                    {format!(
                                        "An account was created with {}, the address your bar has on record, as {}, bar number {} ({}).",
                                        claim.email,
                                        claim.full_name,
                                        claim.bar,
                                        claim.jurisdiction,
                                    )}
                                </p>
                                <p>
                                    "Numbers in Counsel Registry are exempt from call recording in prisons and jails, and confirming this address proves the claim. "
                                    "If you created the account, enter the password you chose for it. If you did not, do not confirm: tell us instead."
                                </p>
                                {confirm}
                                {not_me}
                            }
                                .into_any()
                        }
                        Ok(Some(_)) => {
                            view! {
                                <ActionForm action=action attr:class="form">
                                    <input type="hidden" name="token" value=token />
                                    <button type="submit" class="button">
                                        "Confirm my email address"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Ok(None) => {
                            view! {
                                <p class="form-error" role="alert">
                                    "This link is invalid, has expired or was already used. Sign in to ask for a new one."
                                </p>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <PageError error /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let just_verified = move || query.read().get("verified").is_some();
    let just_reset = move || query.read().get("reset").is_some();

    view! {
        <Title text="Sign in" />
        <h1>"Sign in"</h1>
        <Show when=just_verified>
            <p class="form-success" role="status">
                "Your email address is confirmed. You can sign in now."
            </p>
        </Show>
        <Show when=just_reset>
            <p class="form-success" role="status">
                "Your password is changed. Sign in with the new one."
            </p>
        </Show>
        <SignInForm />
        <p>
            <a href="/forgot-password">"Forgot your password?"</a>
            " · New here? "
            <a href="/signup">"Create an account"</a>
        </p>
    }
}

/// The sign-in form. An island, so that with JavaScript a refusal is shown
/// without a reload and the address stays typed in; without it the form
/// posts and the page comes back with the reason.
#[island]
fn SignInForm() -> impl IntoView {
    provide_form_error_from_url();
    let action = ServerAction::<LogIn>::new();
    view! {
        <FormError result=action.value() />
        <ActionForm action=action attr:class="form">
            <EmailField autocomplete="username" />
            <div class="field">
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    maxlength="128"
                />
            </div>
            <button type="submit" class="button">
                "Sign in"
            </button>
        </ActionForm>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| current_account());
    let query = use_query_map();
    let password_changed = move || query.read().get("password_changed").is_some();
    let claim_link_sent = move || query.read().get("claim_link").is_some();
    let document_added = move || query.read().get("document").is_some();
    let document_error = move || query.read().get("document_error");
    let ask_claim_link = ServerAction::<RequestClaimLink>::new();

    view! {
        <Title text="Your account" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                account
                    .get()
                    .map(|answer| match answer {
                        Ok(Some(account)) => {
                            let role = role_label(&account);
                            let reason = (account.standing != Standing::Verified)
                                .then(|| account.standing_reason.clone())
                                .flatten()
                                .map(|reason| format!(" ({reason})"));
                            let bar_facts = (account.role == Role::Attorney)
                                .then(|| {
                                    view! {
                                        <dt>"Bar"</dt>
                                        <dd>{format!("{} {}", account.jurisdiction, account.bar_number)}</dd>
                                        <dt>"Standing"</dt>
                                        <dd>{standing_label(account.standing)} {reason}</dd>
                                    }
                                });
                            let claim_form = (account.role == Role::Attorney
                                && account.standing == Standing::PendingReview)
                                .then(|| view! { <ProofOfClaim ask_claim_link /> });
                            view! {
                                <h1>"Your account"</h1>
                                <Show when=password_changed>
                                    <p class="form-success" role="status">
                                        "Your password is changed. Every other session of this account is signed out."
                                    </p>
                                </Show>
                                <Show when=document_added>
                                    <p class="form-success" role="status">
                                        "Your document is with the reviewers."
                                    </p>
                                </Show>
                                {move || {
                                    document_error()
                                        .map(|message| {
                                            view! {
                                                <p class="form-error" role="alert">
                                                    {message}
                                                </p>
                                            }
                                        })
                                }}
                                <Show when=claim_link_sent>
                                    <p class="form-success" role="status">
                                        "If your bar has an email address on record for you, a link is on its way there."
                                    </p>
                                </Show>
                                <dl class="facts">
                                    <dt>"Name"</dt>
                                    <dd>{account.full_name.clone()}</dd>
                                    <dt>"Email"</dt>
                                    <dd>{account.email.clone()}</dd>
                                    <dt>"Role"</dt>
                                    <dd>{role}</dd>
                                    {bar_facts}
                                    <dt>"Two-step sign-in"</dt>
                                    <dd>{if account.two_factor_enabled { "On" } else { "Off" }}</dd>
                                </dl>
                                {claim_form}
                                {account
                                    .offer_two_step
                                    .then(|| {
                                        view! {
                                            <p class="notice" data-testid="two-step-offer">
                                                "You have a number in the registry. Protect your account with two-step sign-in: "
                                                "then a stolen password alone cannot remove your numbers or add others. "
                                                <a href="/account/two-factor">"Turn on two-step sign-in"</a>
                                            </p>
                                        }
                                    })}
                                <ul class="actions">
                                    <li>
                                        <a href="/account/password">"Change your password"</a>
                                    </li>
                                    <li>
                                        <a href="/account/two-factor">"Two-step sign-in"</a>
                                    </li>
                                </ul>
                            }
                                .into_any()
                        }
                        Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// What an attorney waiting for review can do about it: have the claim
/// link sent to their bar's email of record, or upload evidence for the
/// reviewers.
#[component]
fn ProofOfClaim(ask_claim_link: ServerAction<RequestClaimLink>) -> impl IntoView {
    view! {
        <FormError result=ask_claim_link.value() />
        <ActionForm action=ask_claim_link attr:class="form">
            <p>
                "We verify you through the email address your bar has on record for your bar number: "
                "we send it a link to confirm. If that is this account's own address, confirming takes your password."
            </p>
            <button type="submit" class="button-secondary">
                "Send the link to my bar's email of record"
            </button>
        </ActionForm>
        <form class="form" method="post" action="/account/review-documents" enctype="multipart/form-data">
            <p>
                "If your bar has no email for you on record, or it is out of date, our reviewers "
                "decide. Help them with your bar card or a letter from your bar: a PDF, JPEG or PNG "
                "of at most 5 MiB, seen only by the reviewers of your jurisdiction and deleted after "
                "their decision."
            </p>
            <div class="field">
                <label for="document">"Bar card or letter"</label>
                <input id="document" name="document" type="file" accept="application/pdf,image/jpeg,image/png" required />
            </div>
            <button type="submit" class="button-secondary">
                "Upload for review"
            </button>
        </form>
    }
}

fn role_label(account: &AccountSummary) -> String {
    match (account.role, &account.admin_jurisdiction) {
        (Role::Attorney, _) => "Attorney".into(),
        (Role::BarAdmin, Some(jurisdiction)) => format!("Bar administrator ({jurisdiction})"),
        (Role::BarAdmin, None) => "Bar administrator".into(),
        (Role::SiteAdmin, _) => "Site administrator".into(),
    }
}

fn standing_label(standing: Standing) -> &'static str {
    match standing {
        Standing::Verified => "Verified attorney in good standing",
        Standing::PendingReview => "Waiting for a match with your bar's roster or a review",
        Standing::Rejected => "Not confirmed: see the email we sent you",
    }
}

#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let action = ServerAction::<VerifySecondFactor>::new();
    view! {
        <Title text="Two-step sign-in" />
        <h1>"Two-step sign-in"</h1>
        <p>"Enter the 6-digit code your authenticator app shows for Counsel Registry."</p>
        <FormError result=action.value() />
        <ActionForm action=action attr:class="form">
            <div class="field">
                <label for="code">"Code"</label>
                <p class="hint" id="code-hint">
                    "Lost your phone? Enter one of your recovery codes instead."
                </p>
                <input
                    id="code"
                    name="code"
                    type="text"
                    inputmode="numeric"
                    autocomplete="one-time-code"
                    required
                    maxlength="64"
                    aria-describedby="code-hint"
                    autofocus
                />
            </div>
            <button type="submit" class="button">
                "Continue"
            </button>
        </ActionForm>
    }
}

#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| current_account());
    let action = ServerAction::<ChangePassword>::new();
    view! {
        <Title text="Change your password" />
        <h1>"Change your password"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                account
                    .get()
                    .map(|answer| match answer {
                        Ok(Some(_)) => {
                            view! {
                                <p>"Every other session of your account is signed out when you change it."</p>
                                <FormError result=action.value() />
                                <ActionForm action=action attr:class="form">
                                    <CurrentPasswordField />
                                    <NewPasswordField label="New password" />
                                    <button type="submit" class="button">
                                        "Change password"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    view! {
        <Title text="Reset your password" />
        <h1>"Reset your password"</h1>
        <p>"We will email you a link to choose a new password. It works for 30 minutes."</p>
        <FormError result=action.value() />
        <ActionForm action=action attr:class="form">
            <EmailField autocomplete="username" />
            <button type="submit" class="button">
                "Email me a link"
            </button>
        </ActionForm>
    }
}

#[component]
pub fn ResetSentPage() -> impl IntoView {
    view! {
        <Title text="Check your email" />
        <h1>"Check your email"</h1>
        <p>
            "If the address you gave has an account, a link to choose a new password is on "
            "its way. It works for 30 minutes."
        </p>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    view! {
        <Title text="Choose a new password" />
        <h1>"Choose a new password"</h1>
        <FormError result=action.value() />
        <ActionForm action=action attr:class="form">
            <input type="hidden" name="token" value=token />
            <NewPasswordField label="New password" />
            <button type="submit" class="button">
                "Save the new password"
            </button>
        </ActionForm>
    }
}
