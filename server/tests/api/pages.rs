use crate::helpers::{Engine, spawn_app};

db_test!(
    async fn home_page_renders_with_landmarks(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/").await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        let html = response.text().await.expect("body");
        assert!(html.contains(r#"<html lang="en">"#));
        assert!(html.contains("<title>Counsel Registry</title>"));
        assert!(html.contains("<header"));
        assert!(html.contains(r#"<nav aria-label="Primary">"#));
        assert!(html.contains(r#"<main id="main""#));
        assert!(html.contains("<footer"));
        assert!(html.contains("Attorney calls from prisons and jails must not be recorded."));
        // The hydration script is referenced so the page can come alive.
        assert!(html.contains("/pkg/counsel-registry.js") || html.contains("counsel-registry"));
    }
);

db_test!(
    async fn how_it_works_page_renders(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/how-it-works").await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.expect("body");
        assert!(html.contains("<title>How it works · Counsel Registry</title>"));
        assert!(html.contains("Bar associations vouch for their members"));
    }
);

db_test!(
    async fn unknown_pages_answer_404_inside_the_layout(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/no/such/page").await;
        assert_eq!(response.status(), 404);
        let html = response.text().await.expect("body");
        assert!(html.contains("Page not found"));
        assert!(html.contains(r#"<nav aria-label="Primary">"#));
    }
);

db_test!(
    async fn hostile_paths_are_not_found_and_not_reflected(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app.get("/%3Cscript%3Ealert(1)%3C/script%3E").await;
        assert_eq!(response.status(), 404);
        let html = response.text().await.expect("body");
        assert!(!html.contains("<script>alert(1)</script>"));
        let traversal = app.get("/pkg/..%2F..%2FCargo.toml").await;
        assert_ne!(traversal.status(), 200);
    }
);

db_test!(
    async fn html_is_compressed_when_the_client_accepts_it(engine: Engine) {
        let app = spawn_app(engine).await;
        let response = app
            .client
            .get(app.url("/"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.headers()["content-encoding"], "gzip");
    }
);
