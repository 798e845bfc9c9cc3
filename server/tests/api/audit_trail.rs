//! The audit trail (issue 17, item 8): decisions are appended with their
//! actor in the transaction that makes them, the chain verifies, and an
//! edited, deleted or truncated entry is found, by the page and by
//! `server audit verify`.

use app::ssr::infra::audit_trail::{self, Actor};
use app::ssr::providers::{self, Scope};

use crate::helpers::journeys::{body, enrolled_site_admin};
use crate::helpers::{Engine, TestApp, run_server, spawn_app};

async fn verify_cli(app: &TestApp) -> (bool, String) {
    run_server(
        &["audit".as_ref(), "verify".as_ref()],
        &[("DATABASE_URL", &app.test_database.url)],
    )
    .await
}

db_test! {
async fn decisions_are_chained_and_an_edited_or_deleted_entry_is_found(engine: Engine) {
    let app = spawn_app(engine).await;
    let pool = app.database.pool();
    // A site admin made at the command line, who then adds a provider and
    // makes and revokes a key through the pages' functions' capabilities.
    enrolled_site_admin(&app, "ada@example.org").await;
    let ada = Actor::Account { id: 1, email: "ada@example.org".into() };
    providers::create_provider(pool, &ada, "Acme Phones").await.expect("provider");
    let key = providers::create_key(pool, &ada, "Acme Phones", &[Scope::RegistryRead]).await.expect("key");
    providers::revoke_key(pool, &Actor::command_line(), &key.prefix).await.expect("revoked");
    // A refused decision leaves no entry.
    assert!(providers::create_provider(pool, &ada, "Acme Phones").await.is_err());

    let entries = audit_trail::recent(pool, 10).await.expect("recent");
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["admin_created", "provider_created", "provider_key_created", "provider_key_revoked"]);
    assert!(entries[1].subject.contains(&key.prefix) && !entries[1].subject.contains(&key.key));
    assert!(entries[2].actor.contains("ada@example.org"), "{}", entries[2].actor);
    let intact = audit_trail::verify(pool).await.expect("verify");
    assert_eq!((intact.entries, intact.problems.len()), (4, 0), "{:?}", intact.problems);
    let (ok, output) = verify_cli(&app).await;
    assert!(ok && output.contains("audit trail intact: 4 entries"), "{output}");
    assert!(output.contains(&intact.head_hash), "{output}");

    // The page shows the entries and the chain's state.
    let page = body(app.get("/admin/audit").await).await;
    assert!(page.contains("The chain is intact: 4 entries."), "{page}");
    assert!(page.contains("Provider key revoked"), "{page}");

    // Someone with the database edits a detail: found.
    sqlx::query("UPDATE audit_trail SET detail = 'scopes: audit:write' WHERE id = 3")
        .execute(pool)
        .await
        .expect("tamper");
    let found = audit_trail::verify(pool).await.expect("verify");
    assert_eq!(found.problems, ["entry 3 was edited: its fields no longer give its hash"]);
    let (ok, output) = verify_cli(&app).await;
    assert!(!ok && output.contains("entry 3 was edited"), "{output}");
    let page = body(app.get("/admin/audit").await).await;
    assert!(page.contains("The chain is broken"), "{page}");

    // … or deletes one in the middle, or the last.
    sqlx::query("DELETE FROM audit_trail WHERE id = 3").execute(pool).await.expect("delete");
    let found = audit_trail::verify(pool).await.expect("verify");
    assert!(found.problems.iter().any(|p| p.contains("entries 3 to 3 are missing")), "{:?}", found.problems);
    assert!(found.problems.iter().any(|p| p.contains("entry 4 does not follow")), "{:?}", found.problems);
    sqlx::query("DELETE FROM audit_trail WHERE id = 4").execute(pool).await.expect("delete");
    let found = audit_trail::verify(pool).await.expect("verify");
    assert!(found.problems.iter().any(|p| p.contains("the head names entry 4, but the trail ends at entry 2")), "{:?}", found.problems);
}
}

db_test! {
async fn concurrent_decisions_chain_one_after_another(engine: Engine) {
    let app = spawn_app(engine).await;
    let pool = app.database.pool().clone();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for j in 0..5 {
                    providers::create_provider(&pool, &Actor::command_line(), &format!("Provider {i}-{j}"))
                        .await
                        .expect("provider");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let found = audit_trail::verify(&pool).await.expect("verify");
    assert_eq!(found.entries, 40);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}
}
