use crate::helpers::{Engine, TestApp, spawn_app};

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .expect("ascii header")
}

/// The nonce of the `<script type="module" nonce=…>` hydration loader.
fn script_nonce(html: &str) -> String {
    let marker = r#"<script type="module" nonce=""#;
    let start = html.find(marker).expect("hydration script") + marker.len();
    let end = start + html[start..].find('"').expect("closing quote");
    html[start..end].to_owned()
}

async fn page_policy(app: &TestApp, path: &str) -> (String, String) {
    let response = app.get(path).await;
    let policy = header(&response, "content-security-policy").to_owned();
    let html = response.text().await.expect("body");
    (policy, script_nonce(&html))
}

db_test!(
    async fn pages_carry_a_csp_naming_their_script_nonce(engine: Engine) {
        let app = spawn_app(engine).await;
        for path in ["/", "/how-it-works", "/no/such/page"] {
            let (policy, nonce) = page_policy(&app, path).await;
            assert!(nonce.len() >= 16, "{path}: a real nonce");
            assert!(
                policy.contains(&format!("'nonce-{nonce}'")),
                "{path}: {policy}"
            );
            for directive in [
                "object-src 'none'",
                "base-uri 'none'",
                "frame-ancestors 'none'",
            ] {
                assert!(policy.contains(directive), "{path}: {policy}");
            }
            assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        }
        let (_, first) = page_policy(&app, "/").await;
        let (_, second) = page_policy(&app, "/").await;
        assert_ne!(first, second, "a fresh nonce per response");
    }
);

db_test!(
    async fn every_response_has_the_fixed_security_headers(engine: Engine) {
        let app = spawn_app(engine).await;
        for path in ["/", "/healthz", "/no/such/page"] {
            let response = app.get(path).await;
            assert_eq!(header(&response, "x-content-type-options"), "nosniff");
            assert_eq!(header(&response, "referrer-policy"), "same-origin");
            assert_eq!(header(&response, "cache-control"), "no-store");
            assert!(
                response
                    .headers()
                    .get("strict-transport-security")
                    .is_none()
            );
        }
        let json = app.get("/healthz").await;
        assert!(header(&json, "content-security-policy").starts_with("default-src 'none'"));
    }
);

db_test!(
    async fn hsts_is_sent_when_served_over_tls(engine: Engine) {
        let app = crate::helpers::spawn_app_over_tls(engine).await;
        let response = app.get("/").await;
        assert!(header(&response, "strict-transport-security").starts_with("max-age="));
    }
);

/// Every registered server function, as (path, method).
fn server_functions() -> Vec<(&'static str, http::Method)> {
    leptos::server_fn::axum::server_fn_paths().collect()
}

db_test!(
    async fn no_server_function_accepts_get(engine: Engine) {
        let app = spawn_app(engine).await;
        let functions = server_functions();
        assert!(!functions.is_empty());
        for (path, method) in functions {
            assert_eq!(method, http::Method::POST, "{path}");
            let response = app.get(path).await;
            assert!(
                matches!(response.status().as_u16(), 404 | 405),
                "GET {path}: {}",
                response.status()
            );
        }
    }
);

db_test!(
    async fn cross_site_posts_are_refused_on_every_server_function(engine: Engine) {
        let app = spawn_app(engine).await;
        let foreign = [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "http://evil.example"),
            ("origin", "null"),
        ];
        for (path, _) in server_functions() {
            for (header, value) in foreign {
                let response = app
                    .client
                    .post(app.url(path))
                    .header(header, value)
                    .form(&[("x", "1")])
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(response.status(), 403, "{header}: {value} on {path}");
            }
        }
        // Nothing was stored by the refused requests.
        let html = app.get("/").await.text().await.expect("body");
        assert!(
            html.contains("is being built"),
            "the notice was not dismissed"
        );
    }
);

db_test!(
    async fn same_origin_posts_are_accepted(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app
            .client
            .post(app.url("/api/dismiss_notice"))
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .header("origin", app.address.as_str())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 302);
    }
);
