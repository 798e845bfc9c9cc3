use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Engine, spawn_app};

db_test!(
    async fn a_request_in_flight_at_shutdown_still_gets_its_answer(engine: Engine) {
        let mut app = spawn_app(engine).await;
        let mut stream = TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("connect");
        // The headers and half of the body: the handler is now waiting for
        // the rest, so the request is in flight.
        let head = format!(
            "POST /api/dismiss_notice HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Accept: text/html\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 3\r\nConnection: close\r\n\r\nx=",
            app.port
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        tokio::time::sleep(Duration::from_millis(200)).await;

        let stop = app.stop_signal().expect("not stopped yet");
        let server = app.server_task().expect("running");
        let _ = stop.send(());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !server.is_finished(),
            "the server waits for the request in flight"
        );

        stream.write_all(b"1").await.expect("write rest of body");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .await
            .expect("read answer");
        assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");

        let finished = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops once the request is answered")
            .expect("task");
        finished.expect("clean shutdown");
        assert!(
            TcpStream::connect(("127.0.0.1", app.port)).await.is_err(),
            "no new connections after shutdown"
        );
    }
);
