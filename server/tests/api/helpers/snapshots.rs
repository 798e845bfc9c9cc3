//! Snapshot steps shared by the tests of stalled readers (issue 16) and
//! of the provider's snapshot caps (issue 24).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;

/// Fills the registry with `count` numbers straight into its table: the
/// snapshot reads it; nothing here needs the change log.
pub async fn many_numbers(app: &TestApp, count: i64) {
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO privileged_intervals (e164, since, added_seq) \
         SELECT '+1' || (2025500000 + i), 0, i FROM n",
    )
    .bind(count)
    .execute(app.database.pool())
    .await
    .expect("numbers");
}

/// A snapshot reader that takes the headers and the first bytes of the
/// body, then stops reading, with a receive buffer too small to let the
/// rest of the body drain into it. Panics unless the snapshot began.
pub async fn stalled_snapshot_reader(port: u16, key: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut stream = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect");
    let request = format!(
        "GET /api/v1/registry/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {key}\r\nAccept: application/x-ndjson\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut seen = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !seen.windows(12).any(|w| w == b"{\"as_of_seq\"") {
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(
            read > 0,
            "the snapshot ended before its body: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    stream
}
