mod accounts;
mod admin;
mod audit;
mod claims;
mod facilities;
mod home;
mod how_it_works;
mod not_found;
mod numbers;
mod overview;
mod providers;
mod roster;
mod two_factor;

pub use accounts::{
    AccountPage, ChangePasswordPage, CheckEmailPage, ForgotPasswordPage, LoginPage,
    ResetPasswordPage, ResetSentPage, SecondFactorPage, SignUpPage, VerifyEmailPage,
};
pub use admin::{NumberLookupPage, ReviewQueuePage};
pub use audit::AuditPage;
pub use claims::{ClaimAnsweredPage, ClaimPage};
pub use facilities::{FacilitiesPage, NumberFacilitiesPage};
pub use home::HomePage;
pub use how_it_works::HowItWorksPage;
pub use not_found::NotFoundPage;
pub use numbers::NumbersPage;
pub use overview::OverviewPage;
pub use providers::ProvidersPage;
pub use roster::{RosterPreviewPage, RosterUploadPage};
pub use two_factor::{RecoveryCodesPage, TwoFactorPage};
