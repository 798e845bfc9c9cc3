use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, Command};
use server::configuration::Settings;
use server::startup::{Application, shutdown_signal};
use server::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);

    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => server::cli::migrate(&settings).await,
        Command::Roster(command) => server::cli::roster(&settings, command).await,
        Command::Admin(command) => server::cli::admin(&settings, command).await,
        Command::Provider(command) => server::cli::provider(&settings, command).await,
        Command::Audit(command) => server::cli::audit(&settings, command).await,
        Command::Secrets(command) => server::cli::secrets(&settings, command).await,
        Command::Backup { file } => server::cli::backup(&settings, file).await,
        command @ Command::Consumer { .. } => server::cli::consumer(command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "stopped with an error");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    let application = Application::build(&settings).await?;
    application.run_until(shutdown).await
}
