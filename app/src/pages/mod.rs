mod accounts;
mod home;
mod how_it_works;
mod not_found;

pub use accounts::{
    AccountPage, CheckEmailPage, ForgotPasswordPage, LoginPage, ResetPasswordPage, ResetSentPage,
    SignUpPage, VerifyEmailPage,
};
pub use home::HomePage;
pub use how_it_works::HowItWorksPage;
pub use not_found::NotFoundPage;
