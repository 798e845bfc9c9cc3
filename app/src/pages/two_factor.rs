use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::api::two_factor::{
    DisableTwoFactor, EnableTwoFactor, TwoFactorStatus, take_recovery_codes, two_factor_setup,
};
use crate::components::form::{CurrentPasswordField, FormError};
use crate::components::page_error::PageError;
use crate::error::AppError;

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let setup = Resource::new(|| (), |_| two_factor_setup());
    let action = ServerAction::<EnableTwoFactor>::new();
    let turn_off = ServerAction::<DisableTwoFactor>::new();

    view! {
        <Title text="Two-step sign-in" />
        <h1>"Two-step sign-in"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                setup
                    .get()
                    .map(|answer| match answer {
                        Ok(TwoFactorStatus::Enabled { recovery_codes_left, may_turn_off }) => {
                            let off_form = may_turn_off
                                .then(|| {
                                    view! {
                                        <h2>"Turn it off"</h2>
                                        <FormError result=turn_off.value() />
                                        <ActionForm action=turn_off attr:class="form">
                                            <CurrentPasswordField id="off_password" />
                                            <div class="field">
                                                <label for="off_code">"Code from the app, or a recovery code"</label>
                                                <input id="off_code" name="code" type="text" autocomplete="one-time-code" required maxlength="64" />
                                            </div>
                                            <button type="submit" class="button-secondary">
                                                "Turn off two-step sign-in"
                                            </button>
                                        </ActionForm>
                                    }
                                });
                            view! {
                                <p class="form-success" role="status">
                                    "Two-step sign-in is on: every sign-in asks for a code from your authenticator app."
                                </p>
                                <p>{format!("Recovery codes left: {recovery_codes_left} of 10.")}</p>
                                {off_form}
                                <p>
                                    <a href="/account">"Back to your account"</a>
                                </p>
                            }
                                .into_any()
                        }
                        Ok(TwoFactorStatus::Enrol { secret, otpauth_url, qr_data_uri, required }) => {
                            view! {
                                {required
                                    .then(|| {
                                        view! {
                                            <p class="form-error" role="alert">
                                                "Administrators must use two-step sign-in. Set it up to continue."
                                            </p>
                                        }
                                    })}
                                <ol class="steps">
                                    <li>
                                        "Open an authenticator app on your phone (for example FreeOTP, Aegis, "
                                        "Google Authenticator or 1Password) and scan this code:"
                                        <img
                                            class="qr"
                                            src=qr_data_uri
                                            width="200"
                                            height="200"
                                            alt="QR code for your authenticator app; the key is also written out below"
                                        />
                                        <p>
                                            "Or enter this key by hand: "
                                            <code class="secret" data-testid="totp-secret">{secret}</code>
                                        </p>
                                        <p class="hint">
                                            <a href=otpauth_url>"Open in an authenticator app on this device"</a>
                                        </p>
                                    </li>
                                    <li>"Enter the 6-digit code the app shows."</li>
                                </ol>
                                <FormError result=action.value() />
                                <ActionForm action=action attr:class="form">
                                    <CurrentPasswordField />
                                    <div class="field">
                                        <label for="code">"Code from the app"</label>
                                        <input
                                            id="code"
                                            name="code"
                                            type="text"
                                            inputmode="numeric"
                                            autocomplete="one-time-code"
                                            required
                                            maxlength="6"
                                            pattern="[0-9]{6}"
                                        />
                                    </div>
                                    <button type="submit" class="button">
                                        "Turn on two-step sign-in"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Err(AppError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn RecoveryCodesPage() -> impl IntoView {
    let codes = Resource::new(|| (), |_| take_recovery_codes());
    view! {
        <Title text="Your recovery codes" />
        <h1>"Your recovery codes"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                codes
                    .get()
                    .map(|answer| match answer {
                        Ok(codes) if codes.is_empty() => {
                            view! {
                                <p>
                                    "Recovery codes are shown once, right after two-step sign-in is turned on."
                                </p>
                                <p>
                                    <a href="/account">"Back to your account"</a>
                                </p>
                            }
                                .into_any()
                        }
                        Ok(codes) => {
                            view! {
                                <p class="form-success" role="status">
                                    "Two-step sign-in is on."
                                </p>
                                <p>
                                    "If you lose your phone, each of these codes lets you sign in once instead "
                                    "of a code from the app. Keep them somewhere safe: they are shown only now."
                                </p>
                                <ul class="recovery-codes" data-testid="recovery-codes">
                                    {codes
                                        .into_iter()
                                        .map(|code| view! { <li><code>{code}</code></li> })
                                        .collect_view()}
                                </ul>
                                <p>
                                    <a class="button" href="/account">
                                        "I have saved them"
                                    </a>
                                </p>
                            }
                                .into_any()
                        }
                        Err(AppError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}
