//! Builds the HTTP application from settings and runs it until a shutdown
//! signal, letting in-flight requests finish.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use app::ssr::housekeeping::Housekeeping;
use app::ssr::infra::db::Database;
use app::ssr::infra::delivery::{CodeSender, Twilio};
use app::ssr::infra::mail::Mailer;
use app::ssr::infra::session::SessionBackend;
use app::ssr::state::AppState;
use app::{App, shell};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use axum::{Extension, Router};
use leptos::nonce::use_nonce;
use leptos::prelude::{LeptosOptions, provide_context, use_context};
use leptos_axum::{LeptosRoutes, ResponseOptions, generate_route_list};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::api_v1::{self, ApiCaps, ApiLimits, KeyCache, ReadLog};
use crate::configuration::{CodeDelivery, Settings};
use crate::middleware::origin_check::{AllowedOrigin, refuse_cross_site};
use crate::middleware::security_headers;
use crate::middleware::throttle::{AuthThrottle, throttle_auth};
use crate::routes::{evidence, health, roster, server_fns};
use app::ssr::infra::rate_limit::Limit;

/// Sessions end after this long without a request.
const SESSION_IDLE_TIMEOUT: time::Duration = time::Duration::minutes(30);

pub struct Application {
    listener: TcpListener,
    router: Router,
    database: Database,
    state: AppState,
    housekeeping: JoinHandle<()>,
    worker: JoinHandle<()>,
    /// Keeps the registry's copy current ([`app::ssr::registry::mirror`]).
    registry_refresher: JoinHandle<()>,
    /// Writes providers' reads; ends once the router (its sender) is gone.
    read_log_writer: JoinHandle<()>,
    shutdown_grace: std::time::Duration,
}

impl Application {
    /// Opens the database, applies migrations and binds the listener.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let database = Database::connect(&settings.database_url, settings.database_max_connections)
            .await
            .context("cannot open the database (DATABASE_URL)")?;
        database
            .migrate()
            .await
            .context("cannot apply migrations")?;
        let sessions = SessionBackend::open(&database)
            .await
            .context("cannot open the session store")?;

        let listener = TcpListener::bind(settings.bind_address)
            .await
            .with_context(|| {
                format!("cannot listen on {} (BIND_ADDRESS)", settings.bind_address)
            })?;
        let local_address = listener.local_addr()?;

        let hashed_bundle = bundle_is_hashed();
        let leptos_options = LeptosOptions::builder()
            .output_name("counsel-registry")
            .site_root(settings.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(local_address)
            .hash_files(hashed_bundle)
            .build();
        let mailer = Mailer::new(&settings.mail_from, &settings.mail_transport)
            .context("cannot set up email (MAIL_FROM, SMTP_URL, MAIL_OUTBOX_DIR)")?;
        let public_origin = settings.public_origin(local_address);
        let state = AppState {
            leptos_options,
            database: database.clone(),
            mailer,
            code_sender: code_sender(&settings.code_delivery)?,
            code_key: match &settings.code_key {
                Some(key) => key.clone(),
                None => app::ssr::infra::secrets::CodeKey::stored(database.pool())
                    .await
                    .context("cannot read or create the code key (CODE_HMAC_KEY unset)")?,
            },
            keyring: app::ssr::infra::sealing::Keyring::for_server(
                settings.secrets_keys.as_ref(),
                database.pool(),
            )
            .await
            .context("cannot read or create the sealing key (SECRETS_KEYS unset)")?,
            base_url: public_origin.clone(),
            session_absolute_limit: settings.session_absolute_limit,
            roster_progress: app::ssr::standing::roster::upload::ProgressBoard::new(
                database.pool().clone(),
            ),
            review_documents_dir: settings.review_documents_dir.clone(),
            roster_files_dir: settings.roster_files_dir.clone(),
            roster_brake: settings.roster_brake,
            outbound: settings.outbound,
            registry: app::ssr::registry::mirror::Mirror::load(database.pool())
                .await
                .context("cannot load the registry")?,
            outbound_client: app::ssr::infra::outbound::client(settings.outbound)
                .context("cannot build the HTTP client for webhooks")?,
        };

        let housekeeping = Housekeeping {
            sessions: sessions.clone(),
            state: state.clone(),
            every: settings.session_cleanup_interval,
            roster_preview_ttl: settings.roster_preview_ttl,
            lookup_counts_retention: settings.lookup_counts_retention,
        }
        .spawn();
        let worker = spawn_worker(state.clone(), settings.job_poll_interval);
        let registry_refresher = state.registry.spawn_refresher();
        crate::metrics::install();
        let allowed_origin = AllowedOrigin(public_origin);
        let (read_log, read_log_writer) = ReadLog::start(state.database.pool().clone());
        let api_caps = ApiCaps::new(&settings.provider_caps).with_context(|| {
            format!(
                "cannot use {} for snapshots (SNAPSHOT_SPOOL_DIR)",
                settings.provider_caps.snapshot_spool_dir.display()
            )
        })?;
        let router = router(
            state.clone(),
            sessions,
            allowed_origin,
            hashed_bundle,
            settings,
            read_log,
            api_caps,
        );
        tracing::info!(address = %local_address, engine = ?database.engine(), "listening");
        Ok(Self {
            listener,
            router,
            database,
            state,
            housekeeping,
            worker,
            registry_refresher,
            read_log_writer,
            shutdown_grace: settings.shutdown_grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// What handlers and jobs run with: for tests that run due jobs on
    /// demand instead of waiting for the worker.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting connections
    /// and gives in-flight requests up to the grace period to finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        });
        let mut server = tokio::spawn(server.into_future());

        let outcome = tokio::select! {
            finished = &mut server => finished.context("server task failed")?.map_err(anyhow::Error::from),
            () = shutdown => {
                tracing::info!("shutdown requested: finishing in-flight requests");
                let _ = stop_tx.send(true);
                match tokio::time::timeout(self.shutdown_grace, &mut server).await {
                    Ok(finished) => finished.context("server task failed")?.map_err(anyhow::Error::from),
                    Err(_) => {
                        tracing::warn!("grace period over: dropping remaining connections");
                        server.abort();
                        Ok(())
                    }
                }
            }
        };
        self.housekeeping.abort();
        // A job cut off here is taken again once its lease runs out.
        self.worker.abort();
        self.registry_refresher.abort();
        // The reads still queued are written before the database closes.
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.read_log_writer)
            .await
            .is_err()
        {
            tracing::warn!("provider reads still queued at shutdown were not logged");
        }
        self.database.close().await;
        tracing::info!("stopped");
        outcome
    }
}

/// The page routes, generated once per process.
///
/// `generate_route_list` renders the app with a process-wide flag set
/// (leptos_server's `SuppressResourceLoad`), and any `Resource` first polled
/// while that flag is up — by another server in the same process, already
/// serving — waits forever (leptos-rs/leptos#4773). Generating the list once,
/// before any router exists, means no page can render during it. This was
/// the intermittent hang of the integration tests, where many servers start
/// in one process.
static ROUTES: std::sync::LazyLock<Vec<leptos_axum::AxumRouteListing>> =
    std::sync::LazyLock::new(|| generate_route_list(App));

fn router(
    state: AppState,
    sessions: SessionBackend,
    allowed_origin: AllowedOrigin,
    hashed_bundle: bool,
    settings: &Settings,
    read_log: ReadLog,
    api_caps: ApiCaps,
) -> Router {
    let leptos_options = state.leptos_options.clone();
    let routes = ROUTES.clone();
    let page_context = page_context(state.clone());
    let pkg_dir = Path::new(&settings.site_root).join("pkg");

    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/metrics",
            get(crate::metrics::scrape).layer(Extension(crate::metrics::MetricsToken(
                settings.metrics_token.clone(),
            ))),
        )
        .route("/api/{*fn_name}", post(server_fns::handler))
        .route(
            "/admin/roster/upload",
            post(roster::upload).layer(DefaultBodyLimit::max(
                (app::ssr::standing::roster::upload::MAX_BYTES + 1024 * 1024) as usize,
            )),
        )
        .route(
            "/admin/roster/uploads/{id}/errors.csv",
            get(roster::errors_csv),
        )
        .route(
            "/admin/roster/uploads/{id}/changes.csv",
            get(roster::changes_csv),
        )
        .route("/roster-template.csv", get(roster::template))
        .route(
            app::ssr::infra::delivery::STATUS_ROUTE,
            post(crate::routes::twilio::status),
        )
        .route(
            app::ssr::infra::delivery::VOICE_ROUTE,
            post(crate::routes::twilio::voice),
        )
        .route(
            app::ssr::infra::delivery::VOICE_CODE_ROUTE,
            post(crate::routes::twilio::voice_code),
        )
        .route(
            "/account/review-documents",
            post(evidence::upload).layer(DefaultBodyLimit::max(
                app::ssr::standing::evidence::MAX_BYTES + 64 * 1024,
            )),
        )
        .route("/admin/reviews/documents/{id}", get(evidence::download))
        .nest(
            "/api/v1",
            api_v1::router()
                .layer(Extension(ApiLimits::per_second(
                    settings.api_requests_per_second,
                )))
                .layer(Extension(api_v1::AuditBudget::per_hour(
                    settings.audit_numbers_per_hour,
                )))
                .layer(Extension(read_log))
                .layer(Extension(api_caps))
                .layer(Extension(KeyCache::default()))
                .layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .leptos_routes_with_context(&state, routes, page_context.clone(), move || {
            shell(leptos_options.clone())
        })
        .nest_service("/pkg", static_files(&pkg_dir, hashed_bundle))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, shell))
        .layer(axum::middleware::from_fn(server_fns::answer))
        .layer(axum::middleware::from_fn_with_state(
            AuthThrottle {
                pool: state.database.pool().clone(),
                limit: Limit {
                    max_hits: i64::from(settings.auth_attempts_per_minute),
                    window: std::time::Duration::from_secs(60),
                },
                trusted_proxy_hops: settings.trusted_proxy_hops,
            },
            throttle_auth,
        ))
        .layer(session_layer(sessions, settings))
        .layer(axum::middleware::from_fn_with_state(
            allowed_origin,
            refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track));
    security_headers::apply(router, settings.served_over_tls())
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CompressionLayer::new()),
        )
        .with_state(state)
}

/// What every rendered page gets: the state, and a CSP naming the nonce
/// leptos_axum generated for this response's hydration script.
fn page_context(state: AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        provide_context(state.clone());
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>())
            && let Ok(policy) =
                HeaderValue::from_str(&security_headers::page_csp(&nonce.to_string()))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
}

/// Whether the release build hashed the bundle's file names: cargo-leptos
/// then writes `hash.txt` beside the server binary (leptos reads it there).
fn bundle_is_hashed() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")))
        .is_some_and(|file| file.is_file())
}

/// The WASM, JS and CSS bundle, gzip or brotli precompressed by the release
/// build. Hashed names never change content, so browsers may keep them for
/// a year; unhashed ones (development) are revalidated on every use.
fn static_files(pkg_dir: &Path, hashed: bool) -> Router {
    let cache_policy = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .fallback_service(
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_policy),
        ))
}

fn session_layer(
    sessions: SessionBackend,
    settings: &Settings,
) -> SessionManagerLayer<SessionBackend> {
    let over_tls = settings.served_over_tls();
    // The __Host- prefix makes browsers refuse the cookie unless it is
    // Secure, has Path=/ and no Domain: it cannot be planted by a subdomain.
    let name = if over_tls {
        "__Host-session"
    } else {
        "session"
    };
    SessionManagerLayer::new(sessions)
        .with_name(name)
        .with_secure(over_tls)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(SESSION_IDLE_TIMEOUT))
}

fn code_sender(delivery: &CodeDelivery) -> anyhow::Result<CodeSender> {
    Ok(match delivery {
        CodeDelivery::Outbox(directory) => CodeSender::Outbox(directory.clone()),
        CodeDelivery::Twilio {
            account_sid,
            auth_token,
            from,
            api_base,
        } => CodeSender::Twilio(Twilio {
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            from: from.clone(),
            api_base: api_base.clone(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .context("cannot set up the HTTP client for Twilio")?,
        }),
    })
}

/// Runs due background jobs (code deliveries to retry, emails) every
/// `every`, and at once again while a round found a full batch.
fn spawn_worker(state: AppState, every: std::time::Duration) -> JoinHandle<()> {
    let name = app::ssr::infra::jobs::worker_name();
    tracing::info!(worker = %name, "background worker started");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            loop {
                match app::ssr::worker::run_due(&state, &name).await {
                    Ok(claimed) if claimed > 0 => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::error!(error = %error, "cannot run background jobs");
                        break;
                    }
                }
            }
        }
    })
}

/// The span of one request. Only the path is recorded: query strings may
/// carry tokens.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled: call it before the
/// server announces it is listening, or an early SIGTERM kills the process
/// the default way.
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
            }
            (interrupt, terminate) => {
                tracing::error!(
                    sigint = interrupt.is_ok(),
                    sigterm = terminate.is_ok(),
                    "cannot listen for shutdown signals"
                );
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
