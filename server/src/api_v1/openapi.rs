//! The OpenAPI 3.1 document of the API, generated from the handlers.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{audit, facilities, problem, registry, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Counsel Registry provider API",
        version = "1",
        description = "The registry of attorney phone numbers that inmate-phone providers must not record. Numbers and times only, never attorney identities. Authenticate with `Authorization: Bearer <key>`; errors are RFC 9457 problem documents."
    ),
    paths(
        registry::snapshot::snapshot,
        registry::changes::changes,
        registry::acks::acknowledge,
        registry::lookup::lookup,
        registry::digests::digests,
        facilities::put,
        facilities::list,
        facilities::retire,
        facilities::acknowledge,
        facilities::reconcile,
        audit::calls,
        webhooks::register,
        webhooks::unregister,
        document,
    ),
    components(schemas(
        problem::Problem,
        registry::Snapshot,
        registry::SnapshotNumber,
        registry::ChangesPage,
        registry::ChangeItem,
        registry::AckRequest,
        registry::AckResponse,
        registry::Lookup,
        registry::DigestsResponse,
        registry::BucketDigest,
        facilities::Kind,
        facilities::FacilityRequest,
        facilities::FacilityResponse,
        facilities::FacilityList,
        facilities::FacilityAckRequest,
        facilities::FacilityAckResponse,
        facilities::ReconciliationRequest,
        facilities::ReconciliationResponse,
        audit::AuditRequest,
        audit::Call,
        audit::AuditResponse,
        audit::PrivilegedCall,
        audit::CallResult,
        audit::CallVerdict,
        webhooks::WebhookRequest,
        webhooks::WebhookRegistered,
    )),
    modifiers(&BearerKeys)
)]
pub struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A provider key, crk_…"))
                    .build(),
            ),
        );
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
