-- Where a provider wants to hear that the registry changed (one endpoint
-- each), signed per Standard Webhooks with the endpoint's secret, which
-- the server must keep to sign. notified_seq: the head last queued for it.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id BIGINT NOT NULL UNIQUE REFERENCES providers (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    notified_seq BIGINT NOT NULL DEFAULT 0,
    disabled_at BIGINT,
    disabled_reason TEXT
);

-- Every delivery attempt, as the delivery log.
CREATE TABLE webhook_deliveries (
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    through_seq BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, at);
