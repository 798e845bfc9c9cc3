use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::components::layout::Layout;
use crate::pages::{
    AccountPage, AuditPage, ChangePasswordPage, CheckEmailPage, ClaimAnsweredPage, ClaimPage,
    FacilitiesPage, ForgotPasswordPage, HomePage, HowItWorksPage, LoginPage, NotFoundPage,
    NumberFacilitiesPage, NumberLookupPage, NumbersPage, OverviewPage, ProvidersPage,
    RecoveryCodesPage, ResetPasswordPage, ResetSentPage, ReviewQueuePage, RosterPreviewPage,
    RosterUploadPage, SecondFactorPage, SignUpPage, TwoFactorPage, VerifyEmailPage,
};

/// The HTML document around the application, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <meta
                    name="description"
                    content="The national registry of attorney phone numbers that correctional phone providers must never record."
                />
                // Inline, so browsers do not ask for a /favicon.ico that is not there.
                <link
                    rel="icon"
                    href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Ccircle cx='16' cy='16' r='15' fill='%2313243b'/%3E%3Ctext x='16' y='23' font-size='20' text-anchor='middle' fill='white' font-family='Georgia,serif'%3E%C2%A7%3C/text%3E%3C/svg%3E"
                />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title formatter=|page: String| {
            if page.is_empty() {
                "Counsel Registry".to_string()
            } else {
                format!("{page} · Counsel Registry")
            }
        } />
        <Router>
            <Layout>
                <Routes fallback=NotFoundPage>
                    // Every page renders its data before sending (Async):
                    // out-of-order streaming would need JavaScript to show
                    // it, and the header shows who is signed in.
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("how-it-works") view=HowItWorksPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("signup") view=SignUpPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("signup"), StaticSegment("check-email")) view=CheckEmailPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("verify-email") view=VerifyEmailPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("claim") view=ClaimPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("claim"), StaticSegment("answered")) view=ClaimAnsweredPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("forgot-password"), StaticSegment("sent")) view=ResetSentPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                    // The page waits for the account, so a signed-out visitor
                    // gets a real redirect status before any HTML is sent.
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("login"), StaticSegment("two-factor")) view=SecondFactorPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("account"), StaticSegment("password"))
                        view=ChangePasswordPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("account"), StaticSegment("two-factor"))
                        view=TwoFactorPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("account"), StaticSegment("two-factor"), StaticSegment("recovery-codes"))
                        view=RecoveryCodesPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("numbers") view=NumbersPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("reviews")) view=ReviewQueuePage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("numbers")) view=NumberLookupPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("roster")) view=RosterUploadPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("providers")) view=ProvidersPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("facilities")) view=FacilitiesPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=AuditPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("overview")) view=OverviewPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("numbers"), StaticSegment("facilities")) view=NumberFacilitiesPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("roster"), StaticSegment("uploads"), ParamSegment("id"))
                        view=RosterPreviewPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </Layout>
        </Router>
    }
}
