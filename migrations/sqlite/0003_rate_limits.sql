-- Fixed-window counters for throttling, shared by every server instance.
-- bucket names what is counted (e.g. "ip:203.0.113.7:/api/log_in");
-- window_start is the window's first instant, in Unix milliseconds.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
